"""
The services the engine's loops reach, built from a project's connections through the hooks: the source and
Kafka sides of an incremental range (`engine.pipeline.incremental.RangeIo`), and retry state naming them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import DbType
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink, sink_producer_config
from airflow_provider_obkafka.engine.pipeline.incremental import RangeIo, Source
from airflow_provider_obkafka.engine.pipeline.retry import Backoff, Retrier
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.operators._project import checkpoint_state

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.project import SyncProject


def endpoints(project: SyncProject) -> dict[str, str]:
    """What a retry waits for, by kind, for the log line."""
    host, port = OceanBaseHook(ob_conn_id=project.source.conn_id).binlog_endpoint()
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    bootstrap = kafka.client_config().get("bootstrap.servers")
    return {"source": f"change log at {host}:{port}", "kafka": f"Kafka at {bootstrap}"}


def retrier(project: SyncProject, give_up_s: float) -> Retrier:
    """The retry state for one unit of work of this project."""
    return Retrier(Backoff(give_up_s=give_up_s), endpoints(project))


def range_io(project: SyncProject) -> RangeIo:
    """The source and Kafka of an incremental range, through the project's `oceanbase` and `kafka` connections."""

    def source() -> Source:
        hook = OceanBaseHook(ob_conn_id=project.source.conn_id, session_time_zone="+00:00")
        db_type = DbType.OB_MYSQL if hook.server_info().is_oceanbase else DbType.MYSQL
        return Source(hook.binlog_connection_settings(), hook.describe_table, db_type, hook.login.tenant)

    def sink(transactional_id: str) -> TransactionalSink:
        config, reports = sink_producer_config(project.options.transaction_timeout_ms)
        producer = KafkaHook(kafka_config_id=project.destination.conn_id).producer(transactional_id, **config)
        return TransactionalSink(producer, project.checkpoint_topic, reports)

    def checkpoints() -> dict[str, dict[str, Any]]:
        return checkpoint_state(project, KafkaHook(kafka_config_id=project.destination.conn_id))

    def create_topic(topic: str) -> None:
        defaults = project.topic_defaults
        spec = TopicSpec(topic, defaults.partitions, defaults.replication_factor, dict(defaults.configs))
        KafkaHook(kafka_config_id=project.destination.conn_id).create_topics([spec])

    return RangeIo(source, sink, checkpoints, create_topic)
