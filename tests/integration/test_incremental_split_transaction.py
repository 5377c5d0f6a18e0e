"""
A source transaction larger than `options.max_changes_per_kafka_transaction` goes out in several Kafka
transactions, each committed with a checkpoint of the position inside the source transaction, so a transaction
of any size commits under a `transaction.timeout.ms` of a few seconds, and a crash inside it resumes exactly
once. Before the split, such a transaction was one Kafka transaction that the broker aborted at its timeout,
and every retry failed the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.incremental import WITHIN_TRANSACTION_FIELD
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators._project import checkpoint_state, project_arg
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project

TIMEOUT_MS = 5000  # the broker aborts a transaction open longer than this
SPLIT = 20_000  # changes per Kafka transaction: well under a second each
BIG = 1_000_000  # the whole-transaction test (MariaDB: 1,000,000 rows in about a minute of worker time)
CRASH = 300_000  # the crash test, on both sources


def _project(cur, db: str, conn_id: str):
    """The table `t` and its project, its topic created by schema synchronization."""
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, pad VARCHAR(40), n BIGINT)")
    options = {"transaction_timeout_ms": TIMEOUT_MS, "max_changes_per_kafka_transaction": SPLIT}
    project = incremental_project(db, conn_id=conn_id, options=options)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    return project


def _big_transaction(source, cur, db: str, rows: int) -> dict:
    """One INSERT of `rows` rows (one source transaction); the trigger's event for its range."""
    start = source.position().model_dump(mode="json")
    cur.execute(f"INSERT INTO {db}.t SELECT seq, CONCAT('row-', seq), seq * 7 FROM {db}.seq_1_to_{rows}")
    end = source.position().model_dump(mode="json")
    return {"status": "ready", "start": start, "end": end, "changes": rows, "reached_end": True}


def _delivered_once(kafka: KafkaHook, topic: str, rows: int) -> None:
    """Every id 1..rows exactly once among the committed messages, each with the source row's values."""
    seen = bytearray(rows + 1)
    count = 0
    for message in kafka.iter_committed(topic, timeout=900, idle=30):
        after = json.loads(message.value())["postStruct"]
        row_id = after["id"]
        assert not seen[row_id], f"id {row_id} delivered twice"
        assert (after["pad"], int(after["n"])) == (f"row-{row_id}", row_id * 7), after
        seen[row_id] = 1
        count += 1
    assert count == rows and all(seen[1:]), f"{count} of {rows} rows delivered"


def _split_records(kafka: KafkaHook, project) -> list[dict]:
    """The committed `incremental/position` records that stand inside a source transaction."""
    values = [
        json.loads(m.value())
        for m in kafka.iter_committed(project.checkpoint_topic, timeout=300, idle=10)
        if m.key() == checkpoints.INCREMENTAL_KEY.encode() and m.value() is not None
    ]
    return [value for value in values if value.get(WITHIN_TRANSACTION_FIELD)]


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_million_row_transaction_commits_in_slices_under_a_short_timeout(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    project = _project(conn.cursor(), db, source.conn_id)
    event = _big_transaction(source, conn.cursor(), db, BIG)

    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)

    assert result["changes"] == BIG
    kafka = KafkaHook()
    _delivered_once(kafka, f"{db}.t", BIG)
    inside = _split_records(kafka, project)
    # a Kafka transaction per SPLIT changes, each with a checkpoint inside the source transaction (the last one
    # at its last change: the commit comes after it), then the transaction's end
    assert [r[WITHIN_TRANSACTION_FIELD] for r in inside] == [SPLIT * i for i in range(1, BIG // SPLIT + 1)]
    assert len({(r["file"], r["position"]) for r in inside}) == 1, "every one at the source transaction's start"
    assert all(_inside_range(r, event) for r in inside)
    final = checkpoint_state(project, kafka)[checkpoints.INCREMENTAL_KEY]
    assert (final["file"], final["position"]) == (event["end"]["file"], event["end"]["position"])
    assert not final.get(WITHIN_TRANSACTION_FIELD), "the finished transaction leaves no position inside it"


def _inside_range(record: dict, event: dict) -> bool:
    """The record's position is in the event's range (the shared MariaDB may log others' writes before ours)."""
    at = (record["file"], record["position"])
    return (event["start"]["file"], event["start"]["position"]) <= at < (event["end"]["file"], event["end"]["position"])


def _committed_inside(project, timeout: float = 300) -> int:
    """Wait for a committed checkpoint inside the source transaction; how many of its changes it covers."""
    kafka = KafkaHook()
    consumer = kafka.read_committed_consumer()
    consumer.subscribe([project.checkpoint_topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.05)
            if message is None or message.error() or message.value() is None:
                continue
            within = json.loads(message.value()).get(WITHIN_TRANSACTION_FIELD)
            if within:
                return within
    finally:
        consumer.close()
    raise AssertionError("no checkpoint inside the transaction was committed")


def test_sigkill_inside_a_big_transaction_resumes_exactly_once(airflow_conn_env, source, mariadb_database, tmp_path):
    db, conn = mariadb_database
    project = _project(conn.cursor(), db, source.conn_id)
    event = _big_transaction(source, conn.cursor(), db, CRASH)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"project": project_arg(project), "event": event}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("incremental_worker.py")), str(args_file)], env=env
    )
    try:
        _committed_inside(project)
        assert worker.poll() is None, "the worker ended before it could be killed inside the transaction"
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    kafka = KafkaHook()
    record = checkpoint_state(project, kafka)[checkpoints.INCREMENTAL_KEY]
    before = record.get(WITHIN_TRANSACTION_FIELD)
    assert before and before % SPLIT == 0 and before < CRASH, f"killed inside the transaction: {record}"
    assert _inside_range(record, event), "at the source transaction's start"
    assert len(kafka.read_committed(f"{db}.t", timeout=120, idle=5)) == before, "the committed slices are visible"

    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    assert result["changes"] == CRASH - before, "the resume sends only what the killed try had not committed"
    _delivered_once(kafka, f"{db}.t", CRASH)
    again = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    assert again["changes"] == 0, "a repeated event replays nothing already committed"
