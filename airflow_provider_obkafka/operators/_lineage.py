"""
OpenLineage for the sync operators: the source tables in, the Kafka topics out, named as OpenLineage's dataset
naming conventions say: a MySQL-protocol table is namespace `mysql://<host>:<port>`, name `<database>.<table>`
(OceanBase in MySQL mode, at the `oceanbase` connection's host and port); a Kafka topic is namespace
`kafka://<first bootstrap server>`, name `<topic>` (what the Apache Kafka provider's asset converter gives).

Used only when apache-airflow-providers-openlineage is installed: its listener calls the operators'
`get_openlineage_facets_on_complete`, which import these classes then; without it nothing here is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.routing.router import in_scope
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.naming import broker_address

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_provider_obkafka.models.project import SyncProject

__all__ = ["incremental_lineage", "kafka_namespace", "source_namespace", "sync_lineage"]


def source_namespace(conn_id: str) -> str:
    """`mysql://<host>:<port>` of the `oceanbase` connection (OpenLineage's MySQL naming)."""
    conn = OceanBaseHook(ob_conn_id=conn_id).connection
    return f"mysql://{conn.host or '127.0.0.1'}:{conn.port or 2881}"


def kafka_namespace(conn_id: str) -> str:
    """`kafka://<first bootstrap server>` of the Kafka connection (OpenLineage's Kafka naming)."""
    return f"kafka://{broker_address(KafkaHook(kafka_config_id=conn_id).client_config().get('bootstrap.servers', ''))}"


def sync_lineage(
    project: SyncProject, tables: Iterable[str], topics: Iterable[str], rows: Mapping[str, int] | None = None
) -> Any:
    """
    The `OperatorLineage` of a synchronization: `tables` (`database.table`) in, `topics` out, with the rows
    written per topic (`rows`) as an output statistics facet when known.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    source, kafka = source_namespace(project.source.conn_id), kafka_namespace(project.destination.conn_id)
    inputs = [InputDataset(namespace=source, name=table) for table in sorted(set(tables))]
    outputs = []
    for topic in sorted(set(topics)):
        facets: dict[str, Any] = {}
        if rows is not None and topic in rows:
            facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=rows[topic])
        outputs.append(OutputDataset(namespace=kafka, name=topic, outputFacets=facets))
    return OperatorLineage(inputs=inputs, outputs=outputs)


def incremental_lineage(project: SyncProject) -> Any:
    """The incremental sync's lineage: every table of the source in the project's scope, and its topic."""
    source = OceanBaseHook(ob_conn_id=project.source.conn_id)
    pairs = {}
    for ref in source.list_tables(sorted({entry.database for entry in project.objects})):
        if in_scope(project, ref.database, ref.table):
            pairs[f"{ref.database}.{ref.table}"] = project.topic_for(ref.database, ref.table)
    return sync_lineage(project, pairs, pairs.values())
