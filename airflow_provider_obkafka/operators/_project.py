"""What every operator of this provider shares: the project argument and error translation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import CapabilityError, ConfigError, SchemaError, TopicError
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.project import SyncProject

if TYPE_CHECKING:
    from airflow_provider_obkafka.hooks.kafka import KafkaHook


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
    except (ConfigError, SchemaError, TopicError, CapabilityError) as exc:
        raise AirflowFailException(str(exc)) from exc


def ensure_checkpoint_topic(project: SyncProject, kafka: KafkaHook) -> str:
    """
    Create the project's checkpoint topic unless it exists (`created` or `exists`): every first step of a DAG
    (schema, full or incremental synchronization) calls it, so a project without schema synchronization has
    one too. An existing topic with other settings fails the task, naming each difference.
    """
    with fail_fast():
        return kafka.create_topics([checkpoints.checkpoint_topic_spec(project)])[project.checkpoint_topic]


def checkpoint_state(project: SyncProject, kafka: KafkaHook, **read: float) -> dict[str, dict[str, Any]]:
    """
    The project's committed checkpoints, the latest value of each key (as compaction keeps them).

    :param read: `timeout` and `idle` of `KafkaHook.iter_committed`
    """
    messages = kafka.iter_committed(project.checkpoint_topic, **read)
    return checkpoints.latest((m.key(), m.value()) for m in messages)
