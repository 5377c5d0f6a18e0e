"""
A table without a primary key or NOT NULL unique key, larger than one chunk, is read in several slices of
`chunk_size` rows at the full sync's OceanBase snapshot, each its own chunk committed with its done-record, so
no Kafka transaction holds the whole table; a crash inside a slice re-reads only that slice, and every row
arrives once. Before, such a table was one chunk read in one pass, whatever its size.
"""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.test_full_sync_crash import _start_worker

SLICE = 40_000
ROWS = 100_000  # three slices: 40,000, 40,000 and 20,000 rows


def _row(i: int) -> tuple:
    """Duplicates, NULLs and values a case-insensitive collation calls equal ('k1'/'K1')."""
    return (None if i % 11 == 0 else i % 500, ("k" if i % 2 else "K") + str(i % 3), None if i % 7 == 0 else f"n{i % 97}")


def _kill_mid_slice(proc, index: int) -> int:
    """SIGKILL the worker once it reports rows of slice `index` produced but not committed."""
    import re
    import signal
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(rf"chunk {index} rows \[\d+, \d+\): (\d+) rows", line)
        if match and 0 < int(match.group(1)) < SLICE:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return int(match.group(1))
        assert line or proc.poll() is None, "the worker ended before it could be killed"
    raise AssertionError("the worker never reported progress")


def test_keyless_table_in_slices_at_the_snapshot_with_a_crash_inside_one(
    airflow_conn_env, seekdb_conn, unique_name, tmp_path
):
    db = unique_name("keyless")
    cur = seekdb_conn().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.heap (v INT NULL, w VARCHAR(8) NULL, note VARCHAR(16) NULL)")
    rows = [_row(i) for i in range(ROWS)]
    for start in range(0, ROWS, 5000):
        cur.executemany(f"INSERT INTO {db}.heap VALUES (%s, %s, %s)", rows[start : start + 5000])
    topic = f"{db}.heap"
    project = parse_project(
        {"name": db, "sync_types": ["schema", "full"],
         "objects": [{"database": db, "tables": ["heap"], "topic": {"mode": "new", "name": topic}}]}
    )  # fmt: skip
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="keyless"), "run_id": db}
    work = FullSyncPlanOperator(task_id="plan", project=project, chunk_size=SLICE).execute(context)
    assert len(work) == 3, "a keyless table of more than one chunk is read in slices"
    # written after the snapshot: no slice may see it
    cur.execute(f"DELETE FROM {db}.heap WHERE v = 1")
    cur.execute(f"INSERT INTO {db}.heap VALUES (-1, 'late', 'late')")

    first = FullSyncOperator(task_id="full_sync", project=project, work=work[0]).execute({})
    assert first["rows"] == SLICE
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"project": project_arg(project), "work": work[1]}))
    assert _kill_mid_slice(_start_worker(args_file), 1) > 0
    kafka = KafkaHook()
    assert len(kafka.read_committed(topic, timeout=60, idle=3)) == SLICE, "only the committed slice is visible"

    counts = [FullSyncOperator(task_id="full_sync", project=project, work=item).execute({}) for item in work]
    assert counts[0]["skipped"] is True
    assert [c["rows"] for c in counts] == [SLICE, SLICE, ROWS - 2 * SLICE]
    delivered = Counter()
    for message in kafka.iter_committed(topic, timeout=300, idle=10):
        after = json.loads(message.value())["postStruct"]
        delivered[(None if after["v"] is None else int(after["v"]), after["w"], after["note"])] += 1
    assert delivered == Counter(rows), "every row of the snapshot exactly once, nothing written after it"
    cur.execute(f"DROP DATABASE {db}")
