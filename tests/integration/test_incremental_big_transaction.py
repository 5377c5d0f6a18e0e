"""
A 500,000-row source transaction through the incremental worker's code path with flat memory: the same run
syncs a 50,000-row transaction first, each in its own process, and the bigger one must not need
proportionally more memory (Python heap by tracemalloc, and peak RSS); every row arrives once.

Run as a script (`python test_incremental_big_transaction.py ARGS.json`) it is the measured worker: one
`IncrementalSyncOperator.execute_complete` for the given event, printing the changes and memory figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project

SMALL, BIG = 50_000, 500_000


def _worker(project: dict, event: dict, tmp_path: Path, name: str) -> dict:
    """Run this file as the worker in a fresh process; its figures."""
    args = tmp_path / f"{name}.json"
    args.write_text(json.dumps({"project": project, "event": event}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, __file__, str(args)], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _delivered_once(kafka: KafkaHook, topic: str, rows: int) -> None:
    """Every id 1..rows exactly once among the committed messages (a bitmap, not a list of messages)."""
    seen = bytearray(rows + 1)
    count = 0
    for message in kafka.iter_committed(topic, timeout=600, idle=10):
        row_id = json.loads(message.value())["postStruct"]["id"]
        assert not seen[row_id], f"id {row_id} delivered twice"
        seen[row_id] = 1
        count += 1
    assert count == rows and all(seen[1:]), f"{count} of {rows} rows delivered"


def test_big_transaction_flat_memory_each_row_once(airflow_conn_env, mariadb_database, tmp_path):
    db, conn = mariadb_database
    cur = conn.cursor()
    for table in ("small", "big"):
        cur.execute(f"CREATE TABLE {db}.{table} (id INT PRIMARY KEY, pad VARCHAR(64), n BIGINT)")
    parsed = incremental_project(db, ["small", "big"])
    SchemaSyncOperator(task_id="schema_sync", project=parsed).execute({})
    project = project_arg(parsed)
    source = OceanBaseHook(ob_conn_id="mariadb_binlog")
    figures = {}
    for table, rows in (("small", SMALL), ("big", BIG)):
        start = source.binlog_position().model_dump(mode="json")
        cur.execute(
            f"INSERT INTO {db}.{table} SELECT seq, REPEAT('x', 64), seq * 7 FROM {db}.seq_1_to_{rows}"
        )
        end = source.binlog_position().model_dump(mode="json")
        event = {"status": "ready", "start": start, "end": end, "changes": rows, "reached_end": True}
        figures[table] = _worker(project, event, tmp_path, table)
        assert figures[table]["changes"] == rows
    print(json.dumps(figures))

    small, big = figures["small"], figures["big"]
    # 10 times the rows: the Python heap must stay about the same, the process a few MB larger at most
    assert big["heap_peak_mb"] < small["heap_peak_mb"] * 1.5 + 4, figures
    assert big["rss_peak_mb"] < small["rss_peak_mb"] + 64, figures

    kafka = KafkaHook()
    _delivered_once(kafka, f"{db}.small", SMALL)
    _delivered_once(kafka, f"{db}.big", BIG)


if __name__ == "__main__":
    import resource
    import tracemalloc

    from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator

    task_args = json.loads(Path(sys.argv[1]).read_text())
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=task_args["project"])
    tracemalloc.start()
    result = operator.execute_complete({}, task_args["event"])
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"changes": result["changes"], "heap_peak_mb": round(heap_peak / 2**20, 1),
                      "rss_peak_mb": round(rss_peak_kb / 1024, 1)}))  # fmt: skip
