"""Where incremental sync starts: a past timestamp (project setting or templated argument), on MariaDB."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.seek import earliest_event_time, position_for_timestamp
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
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


def _project(db: str, **incremental):
    return incremental_project(db, ["orders"], **incremental)


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


def test_project_start_timestamp_delivers_only_later_changes(airflow_db, airflow_conn_env, mariadb_database):
    db, conn = mariadb_database
    when = _before_and_after(conn.cursor(), db)
    project = _project(db, start_timestamp=when.isoformat())
    dag = write_incremental_dag(airflow_db, f"start_{project.slug}", project)
    assert str(dag.test().state) == "success"
    assert _delivered(f"{db}.orders") == AFTER_ONLY


def test_templated_start_timestamp_argument_and_the_checkpoint_winning_later(
    airflow_db, airflow_conn_env, mariadb_database
):
    db, conn = mariadb_database
    when = _before_and_after(conn.cursor(), db)
    project = _project(db)
    dag_id = f"start_arg_{project.slug}"
    dag = _write_and_load(
        airflow_db, dag_id, TEMPLATED_DAG.format(project=json.dumps(project_arg(project)), dag_id=dag_id)
    )
    assert str(dag.test(run_conf={"incremental_start_timestamp": when.isoformat()}).state) == "success"
    assert _delivered(f"{db}.orders") == AFTER_ONLY

    # a later run asking for an earlier time keeps the checkpoint: nothing is delivered twice
    conn.cursor().execute(f"INSERT INTO {db}.orders VALUES (4, 'later')")
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


def test_a_time_before_the_log_reaches_back_is_a_clear_error(airflow_conn_env, mariadb_database):
    settings = OceanBaseHook(ob_conn_id="mariadb_binlog").binlog_connection_settings()
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
    project = _project(db)
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


@pytest.fixture
def mariadb_env_settings(mariadb_service):
    return {"host": mariadb_service.host, "port": mariadb_service.port, "user": "root", "password": "",
            "charset": "utf8mb4"}  # fmt: skip


def _transactions(settings, start, db, include_empty=False):
    with BinlogReader(settings, SEEK_ID, start, {(db, "orders")}, blocking=False) as reader:
        return list(reader.read_transactions(include_empty=include_empty))
