"""Backfill runs, on each source: exactly one data interval's changes, once, even when the run is retried after a
failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException
from airflow.utils.types import DagRunType

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.routing.router import Router
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project, next_second


def _context(begin: datetime, finish: datetime, run_type=DagRunType.BACKFILL_JOB) -> dict:
    return {
        "dag_run": SimpleNamespace(run_type=run_type),
        "data_interval_start": begin,
        "data_interval_end": finish,
    }


def _write(cur, statements: list[str]) -> None:
    for statement in statements:
        cur.execute(statement)  # autocommit: one transaction each


def test_backfill_reproduces_exactly_its_interval_and_a_retry_does_not_duplicate(
    airflow_conn_env, source, mariadb_database, monkeypatch
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, phase VARCHAR(10))")
    _write(cur, [f"INSERT INTO {db}.t VALUES ({i}, 'early')" for i in range(1, 6)])
    begin = next_second()
    _write(cur, [f"INSERT INTO {db}.t VALUES ({i}, 'inside')" for i in range(100, 130)])
    _write(cur, [f"UPDATE {db}.t SET phase = 'inside' WHERE id = 1", f"DELETE FROM {db}.t WHERE id = 2"])
    finish = next_second()
    _write(cur, [f"INSERT INTO {db}.t VALUES ({i}, 'late')" for i in range(200, 205)])
    _write(cur, [f"UPDATE {db}.t SET phase = 'late' WHERE id = 100"])
    source.caught_up()
    topic = f"{db}.t"
    project = incremental_project(db, conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=5)

    send, sent = Router.send, []

    def failing_send(self, change, sink):
        if len(sent) == 12:
            raise SchemaError("injected failure after 12 changes")
        sent.append(change)
        return send(self, change, sink)

    monkeypatch.setattr(Router, "send", failing_send)
    with pytest.raises(AirflowFailException, match="injected failure"):
        operator.execute(_context(begin, finish))
    kafka = KafkaHook()
    assert len(kafka.read_committed(topic, timeout=30)) == 10, "two batches of 5 committed, the third aborted"
    monkeypatch.setattr(Router, "send", send)

    result = operator.execute(_context(begin, finish))  # the retry resumes after the committed batches
    assert result["changes"] == 22
    assert result["already_done"] is False
    messages = [json.loads(m.value()) for m in kafka.read_committed(topic, timeout=60)]
    seen = sorted((m["recordType"], (m["postStruct"] or m["prevStruct"])["id"]) for m in messages)
    expected = sorted([("INSERT", i) for i in range(100, 130)] + [("UPDATE", 1), ("DELETE", 2)])
    assert seen == expected, "exactly the interval's changes, each once"
    assert all((m["postStruct"] or {}).get("phase") in (None, "inside") for m in messages)

    again = operator.execute(_context(begin, finish))
    assert again == {"interval": [begin.isoformat(), finish.isoformat()], "changes": 0, "already_done": True}
    assert len(kafka.read_committed(topic, timeout=30)) == 32
    state = checkpoint_state(project, kafka)
    assert state[checkpoints.backfill_key(begin.isoformat())]["done"] is True
    assert checkpoints.INCREMENTAL_KEY not in state, "a backfill never moves the main checkpoint"


def test_backfill_of_an_interval_the_log_no_longer_holds_is_a_clear_error(
    airflow_conn_env, source, mariadb_database
):
    db, conn = mariadb_database
    conn.cursor().execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    project = incremental_project(db, conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    begin, finish = datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC)
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project)
    with pytest.raises(AirflowFailException, match=(
        r"backfill of \[2000-01-01T00:00:00\+00:00, 2000-01-02T00:00:00\+00:00\): the change log no longer "
        r"reaches back to 2000-01-01T00:00:00\+00:00; its earliest event is .* choose a later start timestamp"
    )):  # fmt: skip
        operator.execute(_context(begin, finish))
