"""Exactly once across a crash: the worker producing a change-log range is killed with SIGKILL, then resumed,
on each source (MariaDB: multi-row events; the obbinlog double: one row per rows event, GTID + µs commit times)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import TopicPartition

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project

ROWS = 100_000


def _written(consumer, topic: str) -> bool:
    """True once the worker has written records (committed or not) to the topic's log."""
    return any(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1] > 0 for p in range(3))


def test_sigkill_mid_range_then_resume_gives_every_change_once(airflow_conn_env, source, mariadb_database, tmp_path):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, payload VARCHAR(40))")
    topic = f"{db}.t"
    project = incremental_project(db, conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = source.position().model_dump(mode="json")
    cur.execute(f"INSERT INTO {db}.t SELECT seq, CONCAT('payload-', seq) FROM {db}.seq_1_to_{ROWS}")  # one transaction
    end = source.position().model_dump(mode="json")
    event = {"status": "ready", "start": start, "end": end, "changes": ROWS, "reached_end": True}
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"project": project_arg(project), "event": event}))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    worker = subprocess.Popen([sys.executable, str(Path(__file__).with_name("incremental_worker.py")), str(args_file)], env=env)
    kafka = KafkaHook()
    watcher = kafka.read_committed_consumer(**{"isolation.level": "read_uncommitted"})  # sees the high watermark
    deadline = time.monotonic() + 120
    while not _written(watcher, topic):
        assert worker.poll() is None, "the worker ended before it could be killed"
        assert time.monotonic() < deadline, "the worker never wrote to the topic"
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(30)
    watcher.close()
    assert kafka.read_committed(topic, timeout=20, idle=2) == [], "nothing of the killed try is visible"

    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    assert result["changes"] == ROWS
    ids = [json.loads(m.value())["postStruct"]["id"] for m in kafka.iter_committed(topic, timeout=300)]
    assert len(ids) == ROWS and sorted(ids) == list(range(1, ROWS + 1)), "every change exactly once"

    again = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    assert again["changes"] == 0, "a repeated event replays nothing already committed"
    assert len(kafka.read_committed(topic, timeout=60)) == ROWS
