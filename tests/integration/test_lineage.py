"""
OpenLineage (apache-airflow-providers-openlineage installed, its file transport configured): a full sync run by
`dag.test()` in a new process emits, for each chunk, the source table as the input dataset
(`mysql://<host>:<port>`, `<database>.<table>`) and the Kafka topic as the output (`kafka://<broker>`, `<topic>`)
with the rows written; the incremental operator's lineage names every table in scope and its topic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.naming import broker_address
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from tests.integration.dag_files import write_full_sync_dag
from tests.integration.incremental_helpers import incremental_project

pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed")

RUN_DAG = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("lineage_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("STATE", module.dag.test().state)
"""


def _namespaces(source_conn: str) -> tuple[str, str]:
    conn = OceanBaseHook(ob_conn_id=source_conn).connection
    broker = broker_address(KafkaHook().client_config()["bootstrap.servers"])
    return f"mysql://{conn.host}:{conn.port}", f"kafka://{broker}"


def test_full_sync_chunks_emit_table_in_topic_out(airflow_db, airflow_conn_env, seekdb_database, tmp_path):
    db, conn = seekdb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, note VARCHAR(20))")
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s)", [(i, f"n{i}") for i in range(300)])
    project = parse_project({"name": db, "sync_types": ["schema", "full"],
                             "objects": [{"database": db, "tables": ["orders"],
                                          "topic": {"mode": "new", "name": f"{db}.orders"}}]})  # fmt: skip
    dag_id = f"lineage_{project.slug}"
    write_full_sync_dag(airflow_db, dag_id, project, 100)
    events_file = tmp_path / "openlineage.jsonl"
    env = {**os.environ, "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
        {"type": "file", "log_file_path": str(events_file), "append": True})}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", RUN_DAG, str(airflow_db / f"{dag_id}.py")], env=env,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert "STATE success" in proc.stdout, (proc.stdout[-3000:], proc.stderr[-3000:])

    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    chunks = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == f"{dag_id}.full_sync"]
    source, kafka = _namespaces(project.source.conn_id)
    assert len(chunks) == 3, [(e["eventType"], e["job"]["name"]) for e in events]
    for event in chunks:
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [(source, f"{db}.orders")]
        (output,) = event["outputs"]
        assert (output["namespace"], output["name"]) == (kafka, f"{db}.orders")
        assert output["outputFacets"]["outputStatistics"]["rowCount"] == 100


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_incremental_lineage_names_every_table_in_scope(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    cur = conn.cursor()
    for table in ("orders", "items", "other"):
        cur.execute(f"CREATE TABLE {db}.{table} (id INT PRIMARY KEY)")
    project = incremental_project(db, ["orders", "items"], conn_id=source.conn_id)
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project)
    lineage = operator.get_openlineage_facets_on_complete(None)
    namespace, kafka = _namespaces(source.conn_id)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(namespace, f"{db}.items"), (namespace, f"{db}.orders")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(kafka, f"{db}.items"), (kafka, f"{db}.orders")]
