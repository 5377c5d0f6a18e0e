"""A generated project DAG end to end (`dag.test()`): precheck, schema, full, then incremental (MariaDB)."""

from __future__ import annotations

import importlib.util
import json
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pendulum
import yaml

from airflow_provider_obkafka.dag_factory import dag_id_for
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.naming import broker_address

if TYPE_CHECKING:
    from pathlib import Path

DAG_FILE = """
from airflow_provider_obkafka.dag_factory import load_project_dags

globals().update(load_project_dags({folder!r}))
"""


def _load_dag_file(dags_folder: Path, name: str, projects: Path) -> dict[str, Any]:
    """Write a DAG file loading `projects` into the DAGs folder (where dag.test() finds it) and import it."""
    path = dags_folder / f"{name}.py"
    path.write_text(DAG_FILE.format(folder=str(projects)))
    spec = importlib.util.spec_from_file_location(f"obkafka_test_project_dags_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def _states(run) -> dict[str, str]:
    """The final state of each task of a run (mapped instances: the set of their states)."""
    found: dict[str, set[str]] = defaultdict(set)
    for ti in run.get_task_instances():
        found[ti.task_id].add(str(ti.state))
    return {task: "/".join(sorted(states)) for task, states in found.items()}


def _records(kafka: KafkaHook, topic: str) -> dict[bytes, list[dict]]:
    """Committed messages of a topic, per key, in partition order (each key lives on one partition)."""
    per_key: dict[bytes, list[dict]] = defaultdict(list)
    for message in sorted(kafka.read_committed(topic, timeout=60), key=lambda m: (m.partition(), m.offset())):
        per_key[message.key()].append(json.loads(message.value()))
    return per_key


def _asset_event_uris(since: pendulum.DateTime) -> list[str]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(AssetModel.uri).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
        return list(session.scalars(query.where(AssetEvent.timestamp >= since)))


def test_generated_dag_runs_full_then_incremental_exactly_once(
    airflow_db, airflow_conn_env, mariadb_database, tmp_path
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    cur.execute(f"CREATE TABLE {db}.items_a (id INT PRIMARY KEY, sku VARCHAR(10))")
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'NEW'), (2, 'NEW'), (3, 'PAID')")
    cur.execute(f"INSERT INTO {db}.items_a VALUES (1, 'a'), (2, 'b')")
    orders_topic, items_topic = f"{db}.orders", f"Topic_{db}_items_a"
    projects = tmp_path / "projects"
    projects.mkdir()
    project = {
        "name": db,
        "tags": ["it"],
        "source": {"conn_id": "mariadb_binlog"},
        "sync_types": ["schema", "full", "incremental"],
        "incremental": {"schedule": "* * * * *"},
        "options": {"defer_hold_s": 0},  # dag.test(): no scheduler to race
        "objects": [
            {"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": orders_topic}},
            {"database": db, "tables": ["items_*"], "topic": {"mode": "batch"}},
        ],
    }
    (projects / f"{db}.yaml").write_text(yaml.safe_dump(project))
    (projects / "broken.yaml").write_text(f"name: {db}_broken\nsync_types: [everything]\n")
    dags = _load_dag_file(airflow_db, f"projects_{db}", projects)
    dag = dags[dag_id_for(db)]
    assert dags[dag_id_for(f"{db}_broken")].tags >= {"obkafka:invalid"}, (
        "a broken file beside it changes nothing"
    )
    started = pendulum.now("UTC")

    # Run 1: a scheduled run whose interval has already ended: full sync, then incremental up to its end.
    first = dag.test(logical_date=started.start_of("minute"))
    assert str(first.state) == "success", _states(first)
    assert _states(first) == dict.fromkeys(
        ["precheck", "schema_sync", "full_sync_plan", "full_sync", "full_sync_report", "full_sync_finish", "incremental_sync"], "success"
    )
    kafka = KafkaHook()
    assert {key: [r["recordType"] for r in rows] for key, rows in _records(kafka, orders_topic).items()} == {
        b"1": ["ROW"], b"2": ["ROW"], b"3": ["ROW"]
    }  # fmt: skip
    assert len(_records(kafka, items_topic)) == 2

    # Changes, then the next scheduled run, started once its interval (ending after the changes) is over.
    cur.execute(f"INSERT INTO {db}.orders VALUES (4, 'NEW')")
    cur.execute(f"UPDATE {db}.orders SET status = 'PAID' WHERE id = 1")
    cur.execute(f"DELETE FROM {db}.orders WHERE id = 2")
    cur.execute(f"INSERT INTO {db}.items_a VALUES (3, 'c')")
    end = pendulum.now("UTC").add(minutes=1).start_of("minute")
    time.sleep(max(0.0, (end - pendulum.now("UTC")).total_seconds()) + 1.0)
    second = dag.test(logical_date=end)
    assert str(second.state) == "success", _states(second)
    assert _states(second) == {
        "precheck": "success",
        "schema_sync": "success",
        "full_sync_plan": "skipped",  # incremental has a checkpoint: the full sync is done
        "full_sync": "skipped",
        "full_sync_report": "skipped",
        "full_sync_finish": "skipped",
        "incremental_sync": "success",
    }

    orders = _records(kafka, orders_topic)
    assert {key: [r["recordType"] for r in rows] for key, rows in orders.items()} == {
        b"1": ["ROW", "UPDATE"], b"2": ["ROW", "DELETE"], b"3": ["ROW"], b"4": ["INSERT"]
    }, "every row once from the full sync, then every change once"  # fmt: skip
    assert orders[b"1"][1]["postStruct"]["status"] == "PAID"
    items = _records(kafka, items_topic)
    assert {key: [r["recordType"] for r in rows] for key, rows in items.items()} == {
        b"1": ["ROW"], b"2": ["ROW"], b"3": ["INSERT"]
    }  # fmt: skip

    # A run triggered with `tables`: a new full sync of those tables only, even with a checkpoint.
    third = dag.test(
        logical_date=started.start_of("minute").subtract(minutes=1), run_conf={"tables": [f"{db}.items_a"]}
    )
    assert str(third.state) == "success", _states(third)
    assert _states(third)["full_sync_plan"] == "success"
    assert [r["recordType"] for r in _records(kafka, items_topic)[b"3"]] == ["INSERT", "ROW"]
    assert sum(map(len, _records(kafka, orders_topic).values())) == 6, "orders untouched"

    uris = _asset_event_uris(started)
    orders_uri, items_uri = f"kafka://kafka_default/{orders_topic}", f"kafka://kafka_default/{items_topic}"
    assert uris.count(orders_uri) == 4, "one full sync (full_sync_report), then each of the three incremental runs"
    assert uris.count(items_uri) == 5, "its 2 full syncs through the full_sync alias, 3 through batch_topics"
    broker = broker_address(kafka.client_config()["bootstrap.servers"])
    assert uris.count(f"kafka://{broker}/{orders_topic}") == 4, "the Kafka provider's form too: through aliases"
    assert uris.count(f"kafka://{broker}/{items_topic}") == 5
