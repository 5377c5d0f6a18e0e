"""
The services the engine's loops reach, built from a project's connections through the hooks: the source and
Kafka sides of an incremental range (`engine.pipeline.incremental.RangeIo`), and retry state naming them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import DbType
from airflow_provider_obkafka.engine.kafka.oversize import MessageLimit, message_limit
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink, sink_producer_config
from airflow_provider_obkafka.engine.pipeline.range_job import RangeIo, Source
from airflow_provider_obkafka.engine.pipeline.retry import Backoff, Retrier
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.operators._project import checkpoint_state

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.models.project import SyncProject

log = logging.getLogger(__name__)
#: Message size limits read in this process (a task's), by Kafka connection and topic: a continuous
#: incremental task produces range after range and reads each topic's limit once.
_LIMITS: dict[tuple[str, str], MessageLimit] = {}


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

    return RangeIo(source, sink, checkpoints, create_topic, message_limits(project))


def message_limits(project: SyncProject) -> Callable[[str], MessageLimit]:
    """
    A topic's message size limit (`engine/kafka/oversize.py`), read once per topic in a task: the producer's
    `message.max.bytes` (the connection's extras) and the topic's `max.message.bytes` (DescribeConfigs; when
    refused, the producer's limit alone, with a warning).
    """
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)

    def limit_of(topic: str) -> MessageLimit:
        ref = (project.destination.conn_id, topic)
        if ref in _LIMITS:
            return _LIMITS[ref]
        producer_max, key = kafka.client_config().get("message.max.bytes"), "max.message.bytes"
        try:
            described = kafka.describe_topics([topic], config_keys=(key,)).get(topic)
        except Exception as exc:  # e.g. no DESCRIBE_CONFIGS on the topic: warned once
            log.warning("topic %s: its max.message.bytes is unread (%s): the producer's limit alone is checked",
                        topic, exc)  # fmt: skip
            _LIMITS[ref] = message_limit(producer_max, topic, None)
            return _LIMITS[ref]
        if described is None:  # not created yet: read again next time
            return message_limit(producer_max, topic, None)
        _LIMITS[ref] = message_limit(producer_max, topic, described.configs.get(key))
        return _LIMITS[ref]

    return limit_of
