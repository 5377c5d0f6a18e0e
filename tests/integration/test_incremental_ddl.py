"""
Schema changes under lag, on each source (MariaDB's binlog with `binlog_row_metadata=FULL`, and the obbinlog
double, whose TABLE_MAPs carry no column names): rows written before a DDL and still unsent when it commits are
rendered with the columns they were written under, rows after it with the new ones, each exactly once.

Each test syncs a first range (the table's definition goes into the checkpoint topic's schema history), then
writes rows, the DDL and more rows before the worker runs again (through `execute_complete` of a fresh
operator, as after a restart: its only state is the checkpoint topic).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.precheck.report import Check, Status
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators._incremental import skip_to_position
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.sensors.precheck import run_precheck
from tests.integration.incremental_helpers import incremental_project, produce, synced_table


def _position() -> Any:
    return OceanBaseHook(ob_conn_id="mariadb_binlog").binlog_position()


def _rows(topic: str, expected: int) -> list[dict[str, Any]]:
    """The committed DML messages of `topic` (Default format), their after (else before) images, in order."""
    messages = KafkaHook().read_committed(topic, timeout=60)
    values = [json.loads(m.value()) for m in sorted(messages, key=lambda m: (m.partition(), m.offset()))]
    dml = [v for v in values if v.get("recordType") in ("INSERT", "UPDATE", "DELETE")]
    assert len(dml) == expected, f"every change once: {dml}"
    assert len(values) == len(dml), "DDL synchronization is off by default: no DDL message"
    return [v["postStruct"] if v["recordType"] != "DELETE" else v["prevStruct"] for v in dml]


def _run(
    source: Any, db: str, conn: Any, before: list[str], changes: list[str], after: list[str], **settings: Any
) -> Any:
    """Table t synced once (id 1), then `before`, `changes` (DDL), `after` written with nothing sent, then a second range."""
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10), n INT)")
    project = incremental_project(db, conn_id=source.conn_id, **settings)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = source.position()
    cur.execute(f"INSERT INTO {db}.t VALUES (1, 'one', 1)")
    middle = source.position()
    produce(project, start, middle)
    for statement in [*before, *changes, *after]:
        cur.execute(statement.format(db=db))
    produce(project, middle, source.position())
    return project


@pytest.mark.timeout(600)
def test_add_column_with_rows_unsent(airflow_conn_env, source, mariadb_database):
    """The issue's run: INSERT, then ALTER ADD COLUMN before the INSERT was produced."""
    db, conn = mariadb_database
    _run(source, db, conn, [f"INSERT INTO {{db}}.t VALUES (2, 'two', 2)"],
         ["ALTER TABLE {db}.t ADD COLUMN note2 INT NULL"], ["INSERT INTO {db}.t VALUES (3, 'three', 3, 33)"])
    rows = _rows(f"{db}.t", 3)
    assert rows[1] == {"id": 2, "a": "two", "n": 2}, "written before the ALTER: its own columns"
    assert rows[2] == {"id": 3, "a": "three", "n": 3, "note2": 33}


@pytest.mark.timeout(600)
def test_drop_column_with_rows_unsent(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', 2)"], ["ALTER TABLE {db}.t DROP COLUMN n"],
         ["INSERT INTO {db}.t VALUES (3, 'three')"])  # fmt: skip
    rows = _rows(f"{db}.t", 3)
    assert rows[1] == {"id": 2, "a": "two", "n": 2}
    assert rows[2] == {"id": 3, "a": "three"}


@pytest.mark.timeout(600)
def test_modify_column_with_rows_unsent(airflow_conn_env, source, mariadb_database):
    """INT to INT UNSIGNED: a negative value written before keeps its sign, a big one after is not negative."""
    db, conn = mariadb_database
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', -5)", "UPDATE {db}.t SET n = 5 WHERE id = 2"],
         ["ALTER TABLE {db}.t MODIFY COLUMN n INT UNSIGNED"], ["INSERT INTO {db}.t VALUES (3, 'three', 4000000000)"])
    rows = _rows(f"{db}.t", 4)
    assert [row["n"] for row in rows[1:]] == [-5, 5, 4000000000]


@pytest.mark.timeout(600)
def test_rename_column_same_count_is_not_mislabelled(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', 2)"],
         ["ALTER TABLE {db}.t RENAME COLUMN a TO b"], ["INSERT INTO {db}.t VALUES (3, 'three', 3)"])
    rows = _rows(f"{db}.t", 3)
    assert rows[1] == {"id": 2, "a": "two", "n": 2}, "written as `a`: labelled `a`"
    assert rows[2] == {"id": 3, "b": "three", "n": 3}


@pytest.mark.timeout(600)
def test_drop_table_with_rows_unsent(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', 2)", "UPDATE {db}.t SET n = 3 WHERE id = 2"],
         ["DROP TABLE {db}.t"], [])  # fmt: skip
    rows = _rows(f"{db}.t", 3)
    assert rows[1:] == [{"id": 2, "a": "two", "n": 2}, {"id": 2, "a": "two", "n": 3}]


@pytest.mark.timeout(600)
def test_rename_table_out_of_scope_with_rows_unsent(airflow_conn_env, source, mariadb_database):
    """Renamed to a name outside the project: the earlier rows go out, nothing after."""
    db, conn = mariadb_database
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', 2)"], ["RENAME TABLE {db}.t TO {db}.t_old"],
         ["INSERT INTO {db}.t_old VALUES (3, 'three', 3)"])  # fmt: skip
    rows = _rows(f"{db}.t", 2)
    assert rows[1] == {"id": 2, "a": "two", "n": 2}


@pytest.mark.timeout(600)
def test_truncate_table_with_rows_unsent(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', 2)"], ["TRUNCATE TABLE {db}.t"],
         ["INSERT INTO {db}.t VALUES (3, 'three', 3)"])  # fmt: skip
    rows = _rows(f"{db}.t", 3)
    assert [row["id"] for row in rows] == [1, 2, 3]


METHODS = ["Default", "Canal", "DataWorks", "SharePlex", "DefaultExtendColumnType", "Debezium"]
DDL_OF = {  # a message -> the DDL statement it carries, None for a row change
    "Default": lambda m: m["postStruct"]["ddl"] if m["recordType"] == "DDL" else None,
    "DefaultExtendColumnType": lambda m: m["postStruct"]["ddl"] if m["recordType"] == "DDL" else None,
    "Canal": lambda m: m["sql"] if m["isDdl"] else None,
    "DataWorks": lambda m: (m["payload"].get("ddl") or {}).get("text"),
    "SharePlex": lambda m: m["sql"]["ddl"] if m["meta"]["op"] == "ddl" else None,
    "Debezium": lambda m: m["payload"].get("ddl"),
}
KIND_OF = {
    "Default": lambda m: m["allMetaData"]["ddlType"], "DefaultExtendColumnType": lambda m: m["allMetaData"]["ddlType"],
    "Canal": lambda m: m["type"], "DataWorks": lambda m: m["payload"]["op"], "SharePlex": lambda m: m["meta"]["op"],
    "Debezium": lambda m: "ddl",
}  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.timeout(600)
def test_ddl_synchronization_delivers_each_ddl_to_every_partition(method, airflow_conn_env, source, mariadb_database):
    """
    `incremental.ddl: true` (OMS DDL Synchronization): an ALTER and a TRUNCATE, between rows, reach every
    partition of the table's Hash-partitioned topic once, each after the rows logged before it in that
    partition and before the rows after it; the rows keep their own columns.
    """
    db, conn = mariadb_database
    alter, truncate = f"ALTER TABLE {db}.t ADD COLUMN note2 INT NULL", f"TRUNCATE TABLE {db}.t"
    _run(source, db, conn, ["INSERT INTO {db}.t VALUES (2, 'two', 2)", "INSERT INTO {db}.t VALUES (4, 'four', 4)"],
         [alter, truncate], ["INSERT INTO {db}.t VALUES (3, 'three', 3, 33)"], ddl=True,
         options={"serialization": method})  # fmt: skip
    messages = KafkaHook().read_committed(f"{db}.t", timeout=60)
    by_partition: dict[int, list[Any]] = {}
    for message in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        by_partition.setdefault(message.partition(), []).append(json.loads(message.value()))
    assert sorted(by_partition) == [0, 1, 2], "a DDL in every partition of the 3"
    rows = 0
    for values in by_partition.values():
        ddl = [DDL_OF[method](v) for v in values]
        statements = [d for d in ddl if d is not None]
        assert statements == [alter, truncate], "each DDL once per partition, in log order"
        first, last = ddl.index(alter), ddl.index(truncate)
        assert all(d is None for d in ddl[:first]) and first + 1 == last and all(d is None for d in ddl[last + 1:])
        rows += len(ddl) - 2
        if method in ("Default", "DefaultExtendColumnType"):
            assert [KIND_OF[method](values[i]) for i in (first, last)] == ["ALTER_TABLE", "TRUNCATE_TABLE"]
            assert all(v["postStruct"].get("note2") is None for v in values[:first])
            assert all("note2" in v["postStruct"] for v in values[last + 1:])
    assert rows == 4, "every row change once"


@pytest.mark.parametrize("how", ["DROP TABLE {db}.t", "RENAME TABLE {db}.t TO {db}.t_old"])
@pytest.mark.timeout(600)
def test_table_gone_is_a_warning_and_the_rest_runs_on(how, airflow_conn_env, mariadb_database):
    """
    A table dropped or renamed out of scope under lag: its earlier rows go out, then the precheck WARNs (no
    FAIL) naming it and the DDL's position, schema synchronization goes through, and the other table's rows
    keep flowing.
    """
    db, conn = mariadb_database
    cur = conn.cursor()
    for table in ("t", "u"):
        cur.execute(f"CREATE TABLE {db}.{table} (id INT PRIMARY KEY, a VARCHAR(10))")
    data = {"name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": "mariadb_binlog"},
            "objects": [{"database": db, "tables": [table], "topic": {"mode": "new", "name": f"{db}.{table}"}}
                        for table in ("t", "u")]}  # fmt: skip
    project = parse_project(data)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = _position()
    cur.execute(f"INSERT INTO {db}.t VALUES (1, 'one')")
    cur.execute(f"INSERT INTO {db}.u VALUES (1, 'one')")
    middle = _position()
    produce(project, start, middle)
    cur.execute(f"INSERT INTO {db}.t VALUES (2, 'two')")
    cur.execute(how.format(db=db))
    cur.execute(f"INSERT INTO {db}.u VALUES (2, 'two')")
    end = _position()
    produce(project, middle, end)
    report = run_precheck(data)
    tables = [f for f in report.findings if f.check is Check.TABLES]
    assert not report.failures, [str(f) for f in report.failures]
    gone = [f for f in tables if f.status is Status.WARN]
    assert len(gone) == 1 and f"table {db}.t was dropped or renamed at {end.file}:" in gone[0].found
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    cur.execute(f"INSERT INTO {db}.u VALUES (3, 'three')")
    produce(project, end, _position())
    assert [row["id"] for row in _rows(f"{db}.t", 2)] == [1, 2]
    assert [row["id"] for row in _rows(f"{db}.u", 3)] == [1, 2, 3]


@pytest.mark.timeout(600)
def test_new_table_of_a_batch_pattern_gets_its_topic_before_its_first_row(airflow_conn_env, mariadb_database):
    """
    A table created under incremental sync that matches a batch entry's pattern: its topic is created by the
    project (its partitions and configs, not the broker's auto-creation) before its first row is produced.
    """
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.o_a (id INT PRIMARY KEY)")
    data = {"name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": "mariadb_binlog"},
            "objects": [{"database": db, "tables": ["o_*"], "topic": {"mode": "batch"}}],
            "topic_defaults": {"partitions": 2}}  # fmt: skip
    project = parse_project(data)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = _position()
    cur.execute(f"INSERT INTO {db}.o_a VALUES (1)")
    middle = _position()
    produce(project, start, middle)
    cur.execute(f"CREATE TABLE {db}.o_b (id INT PRIMARY KEY, v INT)")
    cur.execute(f"INSERT INTO {db}.o_b VALUES (1, 10), (2, 20)")
    produce(project, middle, _position())
    topic = project.topic_for(db, "o_b")
    assert KafkaHook().describe_topics([topic])[topic].partitions == 2, "created by the project, as configured"
    assert sorted(row["id"] for row in _rows(topic, 2)) == [1, 2]


@pytest.mark.timeout(600)
def test_a_change_that_cannot_be_processed_names_the_way_out(airflow_conn_env, source, mariadb_database):
    """
    The documented limit: a table first seen after an ALTER that followed its unsent rows (no history yet).
    MariaDB's binlog names the columns, so the rows go out; the obbinlog double's does not, so the first row
    cannot be decoded: the error names the table, the position, the cause and the recovery, and the
    `incremental_skip_to` way out moves past it (recorded in the checkpoint topic) and the stream goes on.
    """
    db, conn = mariadb_database
    cur, project = synced_table(db, conn, source.conn_id)
    start = source.position()
    cur.execute(f"INSERT INTO {db}.t VALUES (1, 'one')")
    skip_to = source.position()
    cur.execute(f"ALTER TABLE {db}.t ADD COLUMN note2 INT NULL")
    cur.execute(f"INSERT INTO {db}.t VALUES (2, 'two', 22)")
    end = source.position()
    if not source.is_obbinlog:
        produce(project, start, end)
        assert _rows(f"{db}.t", 2)[0] == {"id": 1, "a": "one"}, "the binlog's column names win"
        return
    with pytest.raises(AirflowFailException) as failed:
        produce(project, start, end)
    message = str(failed.value)
    for part in (f"table {db}.t", f"{start.file}:{start.position}", "has 2 columns, the table has 3",
                 "incremental_skip_to", "docs/ddl.md"):  # fmt: skip
        assert part in message, message
    skip = f"{skip_to.file}:{skip_to.position}"
    skip_to_position(project, skip, logging.getLogger("test"))
    skip_to_position(project, skip, logging.getLogger("test"))  # a retried run: recorded once, nothing more
    produce(project, start, end)
    assert _rows(f"{db}.t", 1) == [{"id": 2, "a": "two", "note2": 22}]
    state = checkpoint_state(project, KafkaHook())
    assert state[f"incremental/skip/{skip}"]["to"]["position"] == skip_to.position
    with pytest.raises(AirflowFailException, match="a skip only goes forward"):
        skip_to_position(project, f"{start.file}:{start.position}", logging.getLogger("test"))
