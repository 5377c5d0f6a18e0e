"""Exactly once across a crash: the process syncing a chunk is killed with SIGKILL mid-chunk, then re-run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

ROWS = 150_000


def _start_worker(args_file: Path) -> subprocess.Popen:
    worker = Path(__file__).with_name("chunk_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, str(worker), str(args_file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def _kill_mid_chunk(proc: subprocess.Popen) -> int:
    """Wait until the worker reports rows produced (but not all), then SIGKILL it; return the rows it reported."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"chunk 0 \[start, end\): (\d+) rows", line)
        if match and 0 < int(match.group(1)) < ROWS:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return int(match.group(1))
        assert line or proc.poll() is None, "the worker ended before it could be killed"
    raise AssertionError("the worker never reported progress")


def test_sigkill_mid_chunk_then_rerun_gives_every_row_once(airflow_conn_env, seekdb_conn, unique_name, tmp_path):
    db = unique_name("crash")
    cur = seekdb_conn().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.big (id BIGINT PRIMARY KEY, payload VARCHAR(64))")
    for start in range(0, ROWS, 10_000):
        cur.executemany(f"INSERT INTO {db}.big VALUES (%s, %s)", [(i, f"p{i:08d}") for i in range(start, start + 10_000)])
    topic = f"{db}.big"
    project = parse_project(
        {"name": db, "sync_types": ["schema", "full"], "objects": [{"database": db, "tables": ["big"], "topic": {"mode": "new", "name": topic}}]}
    )
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="crash"), "run_id": db}
    (work,) = FullSyncPlanOperator(task_id="plan", project=project, chunk_size=ROWS * 2).execute(context)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"project": project_arg(project), "work": work}))

    produced_before_kill = _kill_mid_chunk(_start_worker(args_file))
    kafka = KafkaHook()
    assert kafka.read_committed(topic, timeout=20, idle=2) == [], "nothing of the killed try is visible"

    result = FullSyncOperator(task_id="full_sync", project=project, work=work).execute({})
    assert result["rows"] == ROWS and produced_before_kill > 0
    ids = [json.loads(m.value())["postStruct"]["id"] for m in kafka.read_committed(topic, timeout=120)]
    assert len(ids) == ROWS and sorted(ids) == list(range(ROWS)), "every row exactly once"

    again = FullSyncOperator(task_id="full_sync", project=project, work=work).execute({})
    assert again["skipped"] is True and again["rows"] == ROWS
    assert len(kafka.read_committed(topic, timeout=60)) == ROWS, "a re-run of a finished chunk adds nothing"
    cur.execute(f"DROP DATABASE {db}")
