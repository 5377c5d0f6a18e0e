"""
Names of what the DAG factory generates: DAG ids, display names and the Airflow Assets of Kafka topics.

DAG ids are ASCII: `obkafka__` plus the project's slug (`models.naming.project_slug`: an ASCII name as it is,
a name with Chinese characters as `xn--` plus its punycode), the same slug the project's checkpoint topic and
Kafka transactional ids use. The project name itself, Chinese characters included, is the DAG's display name.

A topic's Asset URI is `kafka://<destination connection id>/<topic>`, the URI scheme of the Apache Kafka
provider (`kafka://<server>/<topic>`) with the Airflow connection id in the server's place: a DAG file must
not read connections while it is parsed (that reaches the metadata database or a secrets backend on every
parse), and the id stays the same when the brokers behind it change. Downstream DAGs schedule on
`Asset("kafka://kafka_default/shop.orders")`, or on `topic_asset("kafka_default", "shop.orders")`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow.sdk import Asset, AssetAlias

from airflow_provider_obkafka.models.naming import check_project_name, is_pattern, project_slug
from airflow_provider_obkafka.models.sections import BatchTopics

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.project import SyncProject
    from airflow_provider_obkafka.models.sections import ObjectMapping

__all__ = [
    "DAG_ID_PREFIX", "batch_alias", "dag_id_for", "full_sync_alias", "invalid_dag_id", "pattern_entries",
    "topic_asset", "topic_assets",
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
    """The Airflow Asset of a Kafka topic of the cluster behind connection `conn_id`."""
    return Asset(uri=f"kafka://{conn_id}/{topic}")


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
