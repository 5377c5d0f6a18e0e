"""A generated DAG can be stored by the DAG processor on every supported Airflow (the floor included)."""

from __future__ import annotations

import json

from airflow.serialization.serialized_objects import DagSerialization

from airflow_provider_obkafka.dag_factory import build_dag
from airflow_provider_obkafka.models.loader import parse_project


def test_a_full_and_incremental_dag_serializes_to_json_as_the_dag_processor_hashes_it() -> None:
    """Airflow 3.2.0/3.2.1 store a `dag.param()` without default as ArgNotSet, which JSON cannot hold."""
    project = parse_project(
        {
            "name": "shop",
            "source": {"conn_id": "mariadb_binlog"},
            "sync_types": ["schema", "full", "incremental"],
            "incremental": {"schedule": "* * * * *"},
            "objects": [
                {"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.orders"}}
            ],
        }
    )
    data = DagSerialization.to_dict(build_dag(project))
    text = json.dumps(data, sort_keys=True)  # what SerializedDagModel.hash does; TypeError on ArgNotSet
    assert '"full_sync_plan"' in text
