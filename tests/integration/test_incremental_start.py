"""
Where incremental sync starts: a past timestamp (project setting or templated argument), on each source. On the
obbinlog double, whose files rotate at 64 KiB, a start timestamp also falls in an older file than the newest.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pymysql
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.seek import earliest_event_time, position_for_timestamp
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.dag_files import _write_and_load, write_incremental_dag
from tests.integration.incremental_helpers import incremental_project, next_second

SEEK_ID = 4711
TEMPLATED_DAG = """
import json

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

PROJECT = json.loads({project!r})

with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         params={{"incremental_start_timestamp": Param("", type="string")}}) as dag:
    SchemaSyncOperator(task_id="schema_sync", project=PROJECT) >> IncrementalSyncOperator(
        task_id="incremental_sync", project=PROJECT,
        start_timestamp="{{{{ params.incremental_start_timestamp }}}}",
        batch_size=100, max_wait_s=1.0, poll_interval_s=0.2,
    )
"""


def _project(db: str, conn_id: str = "mariadb_binlog", **incremental):
    return incremental_project(db, ["orders"], conn_id=conn_id, **incremental)


def _before_and_after(cur, db: str) -> datetime:
    """Changes committed before and after a whole second, which is returned."""
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10))")
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'before'), (2, 'before')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'before2' WHERE id = 1")
    when = next_second()
    cur.execute(f"INSERT INTO {db}.orders VALUES (3, 'after')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'after' WHERE id = 2")
    cur.execute(f"DELETE FROM {db}.orders WHERE id = 1")
    return when


def _delivered(topic: str) -> dict[bytes, list[str]]:
    per_key: dict[bytes, list[str]] = {}
    for message in sorted(
        KafkaHook().read_committed(topic, timeout=60), key=lambda m: (m.partition(), m.offset())
    ):
        per_key.setdefault(message.key(), []).append(json.loads(message.value())["recordType"])
    return per_key


AFTER_ONLY = {b"3": ["INSERT"], b"2": ["UPDATE"], b"1": ["DELETE"]}


def test_project_start_timestamp_delivers_only_later_changes(
    airflow_db, airflow_conn_env, source, mariadb_database
):
    db, conn = mariadb_database
    when = _before_and_after(conn.cursor(), db)
    source.caught_up()
    project = _project(db, source.conn_id, start_timestamp=when.isoformat())
    dag = write_incremental_dag(airflow_db, f"start_{project.slug}", project)
    assert str(dag.test().state) == "success"
    assert _delivered(f"{db}.orders") == AFTER_ONLY


def test_templated_start_timestamp_argument_and_the_checkpoint_winning_later(
    airflow_db, airflow_conn_env, source, mariadb_database
):
    db, conn = mariadb_database
    when = _before_and_after(conn.cursor(), db)
    source.caught_up()
    project = _project(db, source.conn_id)
    dag_id = f"start_arg_{project.slug}"
    dag = _write_and_load(
        airflow_db, dag_id, TEMPLATED_DAG.format(project=json.dumps(project_arg(project)), dag_id=dag_id)
    )
    assert str(dag.test(run_conf={"incremental_start_timestamp": when.isoformat()}).state) == "success"
    assert _delivered(f"{db}.orders") == AFTER_ONLY

    # a later run asking for an earlier time keeps the checkpoint: nothing is delivered twice
    conn.cursor().execute(f"INSERT INTO {db}.orders VALUES (4, 'later')")
    source.caught_up()
    assert str(dag.test(run_conf={"incremental_start_timestamp": "2020-01-01T00:00:00Z"}).state) == "success"
    assert _delivered(f"{db}.orders") == {**AFTER_ONLY, b"4": ["INSERT"]}


def test_seek_across_a_file_boundary_returns_the_end_of_the_previous_file(
    mariadb_env_settings, mariadb_database
):
    settings = mariadb_env_settings
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10))")
    cur.execute("SHOW MASTER STATUS")
    origin = BinlogPosition(file=(row := cur.fetchone())[0], position=row[1])
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'before')")
    cur.execute("FLUSH BINARY LOGS")  # the next transaction may be the first of a new file
    when = next_second()
    cur.execute(f"INSERT INTO {db}.orders VALUES (2, 'after')")

    found = position_for_timestamp(settings, SEEK_ID, when)
    ids = [c.after[0] for t in _transactions(settings, found, db) for c in t.changes]
    assert ids == [2]
    from_origin = _transactions(settings, origin, db, include_empty=True)
    assert found in {t.start for t in from_origin}, (
        "a resume point that a reader from further back reports too"
    )
    assert _transactions(settings, position_for_timestamp(settings, SEEK_ID, datetime.now(UTC)), db) == []


def test_a_time_before_the_log_reaches_back_is_a_clear_error(airflow_conn_env, source, mariadb_database):
    settings = source.hook().binlog_connection_settings()
    earliest = earliest_event_time(settings, SEEK_ID)
    assert earliest is not None
    assert earliest < datetime.now(UTC)
    too_early = datetime(2000, 1, 1, tzinfo=UTC)
    expected = (
        re.escape(
            "the change log no longer reaches back to 2000-01-01T00:00:00+00:00; its earliest event is "
        )
        + re.escape(earliest.isoformat())
        + r" in \S+; choose a later start timestamp or run a full synchronization"
    )
    with pytest.raises(CheckpointError, match=expected):
        position_for_timestamp(settings, SEEK_ID, too_early)

    db, conn = mariadb_database
    conn.cursor().execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY)")
    project = _project(db, source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    operator = IncrementalSyncOperator(
        task_id="incremental_sync", project=project, start_timestamp="2000-01-01T00:00:00Z"
    )
    with pytest.raises(AirflowFailException, match=expected):
        operator.execute({})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("yesterday", "is not a valid time"),
        ("2024-05-01 08:00:00", "has no time zone"),
        ("2999-01-01T00:00:00Z", "is in the future"),
    ],
)
def test_an_invalid_start_timestamp_fails_fast_naming_field_value_and_format(value, problem):
    operator = IncrementalSyncOperator(
        task_id="incremental_sync", project=_project("shop"), start_timestamp=value
    )
    with pytest.raises(AirflowFailException, match=rf"start_timestamp '{value}' {problem}"):
        operator.execute({})
    assert "start_timestamp" in IncrementalSyncOperator.template_fields


def _files(port: int) -> list[str]:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="")
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        names = [row[0] for row in cur.fetchall()]
    conn.close()
    return names


def test_a_start_timestamp_in_an_older_file_delivers_every_later_change(
    airflow_db, airflow_conn_env, source, mariadb_database
):
    """The timestamp's transaction lies several rotations back: every change from it on, across the files."""
    if not source.is_obbinlog:
        pytest.skip("MariaDB's files rotate at max_binlog_size (1 GiB): FLUSH BINARY LOGS covers one boundary "
                    "in the seek test above; the double rotates at 64 KiB as a small obbinlog max_binlog_size")
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10), pad VARCHAR(2000))")
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, 'before', REPEAT('b', 2000))", [(i,) for i in range(5)])
    when = next_second()
    source.caught_up()
    older = _files(source.endpoint.port)[-1]
    for first in range(100, 200, 4):  # about 100 KiB a file's worth of rows twice over: at least 2 rotations
        cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, 'after', REPEAT('a', 2000))",
                        [(i,) for i in range(first, first + 4)])  # fmt: skip
    cur.execute(f"UPDATE {db}.orders SET phase = 'after' WHERE id < 3")
    source.caught_up()
    files = _files(source.endpoint.port)
    assert files.index(older) <= len(files) - 3, "the changes after the timestamp cross at least 2 rotations"
    found = position_for_timestamp(source.settings(), SEEK_ID, when)
    assert found.file <= older and found.file in files[:-2], "the start lies in an older file"

    project = _project(db, source.conn_id, start_timestamp=when.isoformat())
    dag = write_incremental_dag(airflow_db, f"start_older_{project.slug}", project)
    assert str(dag.test().state) == "success"
    got = _delivered(f"{db}.orders")
    assert got == {**{str(i).encode(): ["INSERT"] for i in range(100, 200)},
                   **{str(i).encode(): ["UPDATE"] for i in range(3)}}  # fmt: skip


@pytest.fixture
def mariadb_env_settings(mariadb_service):
    return {"host": mariadb_service.host, "port": mariadb_service.port, "user": "root", "password": "",
            "charset": "utf8mb4"}  # fmt: skip


def _transactions(settings, start, db, include_empty=False):
    with BinlogReader(settings, SEEK_ID, start, {(db, "orders")}, blocking=False) as reader:
        return list(reader.read_transactions(include_empty=include_empty))
