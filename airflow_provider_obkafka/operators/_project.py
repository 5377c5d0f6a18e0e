"""What every operator of this provider shares: the project argument and error translation."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.schema_history import gone_tables
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import (
    CapabilityError,
    ConfigError,
    MessageTooLargeError,
    SchemaError,
    TopicError,
)
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.project import SyncProject
from airflow_provider_obkafka.models.topic import TopicSpec

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from airflow_provider_obkafka.hooks.kafka import KafkaHook

log = logging.getLogger(__name__)


def project_arg(project: SyncProject | Mapping[str, Any]) -> dict[str, Any]:
    """A project as plain JSON-able data, the form operators keep (DAG serialization stores it)."""
    if isinstance(project, SyncProject):
        return project.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
    return dict(project)


def load_project(data: Mapping[str, Any]) -> SyncProject:
    """The validated project; an invalid one fails the task at once (a retry cannot fix it)."""
    with fail_fast():
        return parse_project(data, source=f"project {data.get('name')!r}")


@contextlib.contextmanager
def fail_fast() -> Iterator[None]:
    """Errors a retry cannot fix (bad configuration, a missing table or topic) fail the task without retries."""
    try:
        yield
    except (ConfigError, SchemaError, TopicError, CapabilityError, MessageTooLargeError) as exc:
        raise AirflowFailException(str(exc)) from exc


def ensure_checkpoint_topic(project: SyncProject, kafka: KafkaHook) -> str:
    """
    Create the project's checkpoint topic (`checkpoint_topic_spec`) unless it exists; every first step of a
    DAG (schema, full or incremental synchronization) calls it, so a project without schema synchronization
    has one too. An existing one gets the spec's configs; a replication factor below the spec's is logged
    (Kafka changes it only by reassigning partitions); more than one partition fails the task.
    Returns what was done, for the log. The project's dead-letter topic is created too when a table's
    `oversize_rows` is `dead_letter` (`ensure_dead_letter_topic`).
    """
    with fail_fast():
        spec = checkpoints.checkpoint_topic_spec(project.checkpoint_topic, kafka.broker_count())
        if project.uses_dead_letter():
            ensure_dead_letter_topic(project, kafka, spec.replication_factor)
        found = kafka.describe_topics([spec.name], config_keys=tuple(spec.configs)).get(spec.name)
        if found is None:
            return kafka.create_topics([spec])[spec.name]
        if found.partitions != 1:
            raise TopicError(f"checkpoint topic {spec.name!r} has {found.partitions} partitions, it must have 1 "
                             "(one order for every record): delete it only if the project starts over, or "
                             "set checkpoint_topic to another name")  # fmt: skip
        if found.replication_factor < spec.replication_factor:
            log.warning("checkpoint topic %s has replication factor %d, %d recommended on this cluster: raise it "
                        "with kafka-reassign-partitions", spec.name, found.replication_factor,
                        spec.replication_factor)  # fmt: skip
        changed = {k: v for k, v in spec.configs.items() if found.configs.get(k) != v}
        if changed:
            kafka.set_topic_configs(spec.name, changed)
            return "exists, configs set: " + ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))
        return "exists"


def ensure_dead_letter_topic(project: SyncProject, kafka: KafkaHook, replication_factor: int) -> None:
    """
    Create the project's dead-letter topic unless it exists: one partition, the checkpoint topic's replication
    factor and the brokers' other defaults. It holds a small JSON record per row too large for Kafka.
    """
    topic = project.dead_letter_topic
    if not kafka.describe_topics([topic]):
        outcome = kafka.create_topics([TopicSpec(topic, 1, replication_factor, {})])[topic]
        log.info("dead-letter topic %s: %s", topic, outcome)


def checkpoint_state(project: SyncProject, kafka: KafkaHook, **read: float) -> dict[str, dict[str, Any]]:
    """
    The project's committed checkpoints, the latest value of each key (as compaction keeps them).

    :param read: `timeout` and `idle` of `KafkaHook.iter_committed`
    """
    messages = kafka.iter_committed(project.checkpoint_topic, **read)
    return checkpoints.latest((m.key(), m.value()) for m in messages)


def gone_tables_of(project: SyncProject, kafka: KafkaHook) -> dict[str, str]:
    """
    The project's tables the change log saw dropped or renamed away (`database.table` -> the DDL's position),
    from the schema history in its checkpoint topic; none before the topic exists.
    """
    if not kafka.describe_topics([project.checkpoint_topic]):
        return {}
    return gone_tables(checkpoints.schema_records(checkpoint_state(project, kafka)))
