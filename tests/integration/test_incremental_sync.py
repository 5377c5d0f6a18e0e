"""Incremental synchronization through Airflow (`dag.test()`: defer, trigger, resume), from each source."""

from __future__ import annotations

import json

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.integration.dag_files import write_incremental_dag
from tests.integration.incremental_helpers import incremental_project


@pytest.mark.compat
def test_runs_defer_resume_and_deliver_each_change_once(airflow_db, airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10), total DECIMAL(8,2))")
    cur.execute(f"CREATE TABLE {db}.skipped (id INT PRIMARY KEY)")
    topic = f"{db}.orders"
    project = incremental_project(db, ["orders"], conn_id=source.conn_id)
    dag = write_incremental_dag(airflow_db, f"inc_{project.slug}", project)
    assert str(dag.test().state) == "success"  # first run: starts now, records the checkpoint

    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'NEW', 10.50), (2, 'NEW', 20.00)")
    cur.execute(f"INSERT INTO {db}.skipped VALUES (1)")
    cur.execute(f"UPDATE {db}.orders SET status = 'PAID' WHERE id = 1")
    cur.execute(f"DELETE FROM {db}.orders WHERE id = 2")
    source.caught_up()
    assert str(dag.test().state) == "success"

    kafka = KafkaHook()
    messages = kafka.read_committed(topic, timeout=60)
    per_key: dict[bytes, list[dict]] = {}
    for message in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        per_key.setdefault(message.key(), []).append(json.loads(message.value()))
    assert {key: [v["recordType"] for v in values] for key, values in per_key.items()} == {
        b"1": ["INSERT", "UPDATE"],
        b"2": ["INSERT", "DELETE"],
    }, "each key's changes, once, in commit order"
    insert, update = per_key[b"1"]
    assert update["prevStruct"]["status"] == "NEW" and update["postStruct"]["status"] == "PAID"
    assert insert["postStruct"]["total"] == 10.50 and insert["allMetaData"]["dbType"] == "MYSQL"
    assert insert["allMetaData"]["timestamp"] is not None
    assert per_key[b"2"][1]["postStruct"] is None and per_key[b"2"][1]["prevStruct"]["id"] == 2

    assert str(dag.test().state) == "success"  # nothing new: nothing produced again
    assert len(kafka.read_committed(topic, timeout=30)) == 4


def test_dml_left_out_of_the_project_is_not_produced(airflow_db, airflow_conn_env, source, mariadb_database):
    """OMS "DML for Data Change": with DELETE left out, inserts and updates arrive and deletes do not."""
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    project = incremental_project(db, ["orders"], conn_id=source.conn_id, dml=["INSERT", "UPDATE"])
    dag = write_incremental_dag(airflow_db, f"inc_{project.slug}", project)
    assert str(dag.test().state) == "success"
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'NEW'), (2, 'NEW')")
    cur.execute(f"UPDATE {db}.orders SET status = 'PAID' WHERE id = 1")
    cur.execute(f"DELETE FROM {db}.orders WHERE id = 2")
    source.caught_up()
    assert str(dag.test().state) == "success"
    kinds = sorted(json.loads(m.value())["recordType"] for m in KafkaHook().read_committed(f"{db}.orders", 60))
    assert kinds == ["INSERT", "INSERT", "UPDATE"]


def test_a_range_across_files_is_read_over_one_dump(airflow_conn_env, source, mariadb_database, monkeypatch):
    """
    The worker reads a reported range over ONE blocking dump that stops at the range's end. obbinlog answers a
    non-blocking dump with one file, then EOF (`BinlogDumper::run`): a dump per file made each 64 KiB file of
    the double pay a connection and its session setup (about 45 ms each on the double, 60 % of the worker's
    read time in `docs/benchmarks.md`), and with real file sizes it still costs one per file crossed.
    """
    from airflow_provider_obkafka.engine.binlog import reader as reader_module
    from airflow_provider_obkafka.engine.binlog.wire import DumpStream
    from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
    from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, b VARCHAR(255))")
    project = incremental_project(db, ["t"], conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema", project=project).execute({})
    start = source.position()
    for first in range(0, 1500, 30):
        cur.execute("BEGIN")
        rows = [(i, "x" * 200) for i in range(first, first + 30)]
        cur.executemany(f"INSERT INTO {db}.t VALUES (%s, %s)", rows)
        cur.execute("COMMIT")
    end = source.position()
    if source.is_obbinlog:
        files = int(end.file.rsplit(".", 1)[1]) - int(start.file.rsplit(".", 1)[1])
        assert files >= 3, "the range spans at least 3 rotations"
    opened: list[DumpStream] = []

    class CountedDump(DumpStream):
        def __init__(self, *args, **kwargs) -> None:
            opened.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(reader_module, "DumpStream", CountedDump)
    event = {"status": "ready", "start": start.model_dump(mode="json"), "end": end.model_dump(mode="json"),
             "changes": 1500, "reached_end": True}  # fmt: skip
    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)

    assert result["changes"] == 1500
    assert len(opened) == 1, f"{len(opened)} dumps opened for one range from {start.file} to {end.file}"
    assert len(KafkaHook().read_committed(f"{db}.t", timeout=60)) == 1500
