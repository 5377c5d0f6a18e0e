"""
A 500,000-row source transaction through the incremental worker's code path with flat memory: the same run
syncs a 50,000-row transaction first, each in its own process, and the bigger one must not need
proportionally more memory (Python heap by tracemalloc, and peak RSS); every row arrives once. On each source:
from the obbinlog double the transaction is 500,000 rows events of one row each, as obbinlog writes it.

Run as a script (`python test_incremental_big_transaction.py ARGS.json`) it is the measured worker: one
`IncrementalSyncOperator.execute_complete` for the given event, printing the changes and memory figures. The
heap is measured by tracemalloc on MariaDB; on the double (two events per row, each parsed on its own) tracemalloc
made the 500,000-row worker run for more than 5 minutes instead of about 15 s, so the heap there is the peak
of `sys.getallocatedblocks()` (the interpreter's live memory blocks), sampled every 5 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project

SMALL, BIG = 50_000, 500_000


def _worker(project: dict, event: dict, tmp_path: Path, name: str, heap: str) -> dict:
    """Run this file as the worker in a fresh process; its figures (`heap`: tracemalloc or blocks)."""
    args = tmp_path / f"{name}.json"
    args.write_text(json.dumps({"project": project, "event": event, "heap": heap}))
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


def test_big_transaction_flat_memory_each_row_once(airflow_conn_env, source, mariadb_database, tmp_path):
    db, conn = mariadb_database
    cur = conn.cursor()
    for table in ("small", "big"):
        cur.execute(f"CREATE TABLE {db}.{table} (id INT PRIMARY KEY, pad VARCHAR(64), n BIGINT)")
    parsed = incremental_project(db, ["small", "big"], conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=parsed).execute({})
    project = project_arg(parsed)
    figures = {}
    for table, rows in (("small", SMALL), ("big", BIG)):
        start = source.position().model_dump(mode="json")
        cur.execute(
            f"INSERT INTO {db}.{table} SELECT seq, REPEAT('x', 64), seq * 7 FROM {db}.seq_1_to_{rows}"
        )
        end = source.position().model_dump(mode="json")
        event = {"status": "ready", "start": start, "end": end, "changes": rows, "reached_end": True}
        heap = "blocks" if source.is_obbinlog else "tracemalloc"
        figures[table] = _worker(project, event, tmp_path, table, heap)
        assert figures[table]["changes"] == rows
    print(json.dumps({"source": source.kind, **figures}))

    small, big = figures["small"], figures["big"]
    # 10 times the rows: the Python heap must stay about the same, the process a few MB larger at most
    if source.is_obbinlog:
        assert big["blocks_peak"] < small["blocks_peak"] * 1.2 + 20_000, figures
    else:
        assert big["heap_peak_mb"] < small["heap_peak_mb"] * 1.5 + 4, figures
    assert big["rss_peak_mb"] < small["rss_peak_mb"] + 64, figures

    kafka = KafkaHook()
    _delivered_once(kafka, f"{db}.small", SMALL)
    _delivered_once(kafka, f"{db}.big", BIG)


def _blocks_peak(run):
    """`run()`'s result and the peak of the interpreter's allocated blocks while it ran (sampled)."""
    import threading

    peak, done = [sys.getallocatedblocks()], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], sys.getallocatedblocks())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        return run(), peak[0]
    finally:
        done.set()
        sampler.join()


if __name__ == "__main__":
    import resource
    import tracemalloc

    from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator

    task_args = json.loads(Path(sys.argv[1]).read_text())
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=task_args["project"])
    out = {}
    if task_args["heap"] == "blocks":
        result, out["blocks_peak"] = _blocks_peak(lambda: operator.execute_complete({}, task_args["event"]))
    else:
        tracemalloc.start()
        result = operator.execute_complete({}, task_args["event"])
        out["heap_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    rss_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"changes": result["changes"], **out, "rss_peak_mb": round(rss_peak_kb / 1024, 1)}))
