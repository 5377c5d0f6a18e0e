"""
Names of what the DAG factory generates: DAG ids, display names and the Airflow Assets of Kafka topics.

DAG ids are ASCII: `obkafka__` plus the project's slug (`models.naming.project_slug`: an ASCII name as it is,
a name with Chinese characters as `xn--` plus its punycode), the same slug the project's checkpoint topic and
Kafka transactional ids use. The project name itself, Chinese characters included, is the DAG's display name.

A topic's Asset has the Apache Kafka provider's URI, `kafka://<broker host:port>/<topic>` (its
`assets.kafka.create_asset`; OpenLineage names the topic the same way, namespace `kafka://<host:port>`): the
first broker of the destination connection's `bootstrap.servers`. A DAG file must not read connections while
it is parsed (that reaches the metadata database or a secrets backend on every parse), so these events are
added at run time through asset aliases (`broker_topic_assets`). The URI of earlier versions,
`kafka://<destination connection id>/<topic>` (`topic_asset`), is still emitted beside it, so DAGs scheduled
on it keep running; docs/dags.md says how to move to the broker form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow.sdk import Asset, AssetAlias

from airflow_provider_obkafka.models.naming import broker_address, check_project_name, is_pattern, project_slug
from airflow_provider_obkafka.models.sections import BatchTopics

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.project import SyncProject
    from airflow_provider_obkafka.models.sections import ObjectMapping

__all__ = [
    "DAG_ID_PREFIX", "batch_alias", "broker_topic_assets", "dag_id_for", "full_sync_alias",
    "invalid_dag_id", "kafka_topic_asset", "pattern_entries", "topic_asset", "topic_assets", "topics_alias",
]  # fmt: skip

DAG_ID_PREFIX = "obkafka__"
_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def dag_id_for(project_name: str) -> str:
    """
    The DAG id of a project: `obkafka__<slug>`, ASCII letters, digits, `_`, `-` and `.` only.

    :param project_name: a valid project name (letters, digits, Chinese characters, `_`, `-`)
    :raises ValueError: the name breaks the project name rule
    """
    return DAG_ID_PREFIX + project_slug(check_project_name(project_name))


def invalid_dag_id(file_stem: str) -> str:
    """The id of the placeholder DAG of a project file whose name cannot be read: from the file name."""
    readable = _NOT_ID_CHARS.sub("_", file_stem).strip("_") or "unnamed"
    return f"{DAG_ID_PREFIX}invalid__{readable[:200]}"


def topic_asset(conn_id: str, topic: str) -> Asset:
    """The connection-id form of a topic's Asset (`kafka://<conn_id>/<topic>`), kept for existing DAGs."""
    return Asset(uri=f"kafka://{conn_id}/{topic}")


def kafka_topic_asset(server: str, topic: str) -> Asset:
    """The Asset of `topic` in the Apache Kafka provider's form: `kafka://<server>/<topic>`."""
    return Asset(uri=f"kafka://{server}/{topic}")


def broker_topic_assets(conn_id: str, topic: str) -> list[Asset]:
    """
    What a task adds an event to for `topic` (run time only: it reads the connection): the Kafka provider's
    form with the first broker of the connection, then the connection-id form of earlier versions.
    """
    from airflow_provider_obkafka.hooks.kafka import KafkaHook

    bootstrap = KafkaHook(kafka_config_id=conn_id).client_config().get("bootstrap.servers", "")
    return [kafka_topic_asset(broker_address(bootstrap), topic), topic_asset(conn_id, topic)]


def topic_assets(project: SyncProject) -> list[Asset]:
    """The Assets of every topic known before reading the source (new, existing, batch of listed tables)."""
    return [topic_asset(project.destination.conn_id, topic) for topic in sorted(project.known_topics())]


def pattern_entries(project: SyncProject) -> list[ObjectMapping]:
    """The batch-mode entries with table patterns: their topics are known only once the source is read."""
    return [
        entry
        for entry in project.objects
        if isinstance(entry.topic, BatchTopics) and any(is_pattern(table) for table in entry.tables)
    ]


def batch_alias(project: SyncProject) -> AssetAlias:
    """The alias through which incremental sync reports topics generated for tables matched by patterns."""
    return AssetAlias(name=f"{dag_id_for(project.name)}/batch_topics")


def full_sync_alias(project: SyncProject) -> AssetAlias:
    """The alias through which each full-sync chunk reports the topic it wrote (known at run time only)."""
    return AssetAlias(name=f"{dag_id_for(project.name)}/full_sync")


def topics_alias(project: SyncProject) -> AssetAlias:
    """The alias through which incremental sync reports its topics in the broker form (known at run time)."""
    return AssetAlias(name=f"{dag_id_for(project.name)}/topics")
