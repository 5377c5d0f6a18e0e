"""
`options.chunk_max_bytes` bounds a full-sync chunk by the bytes of its rows' values as well as by
`chunk_size` rows: a table of wide rows is cut into chunks that each hold at most that many bytes, at the
snapshot, and every row arrives once. Before, a chunk was `chunk_size` rows whatever their width.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

ROWS = 200
MAX_BYTES = 100_000


def _body(i: int) -> str:
    return "w" * (10_000 if i == 77 else 2_000 + i)  # one row five times as wide as the others


def _row_bytes(i: int) -> int:
    """The bytes of a row's values as the planner counts them: LENGTH of each value as text."""
    return len(str(i)) + len(_body(i))


def test_chunks_hold_at_most_chunk_max_bytes_of_row_values(airflow_conn_env, seekdb_conn, unique_name):
    db = unique_name("wide")
    cur = seekdb_conn().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.wide (id INT PRIMARY KEY, body VARCHAR(16000))")
    cur.executemany(f"INSERT INTO {db}.wide VALUES (%s, %s)", [(i, _body(i)) for i in range(ROWS)])
    topic = f"{db}.wide"
    project = parse_project(
        {"name": db, "sync_types": ["schema", "full"], "options": {"chunk_max_bytes": MAX_BYTES},
         "objects": [{"database": db, "tables": ["wide"], "topic": {"mode": "new", "name": topic}}]}
    )  # fmt: skip
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="wide"), "run_id": db}
    work = FullSyncPlanOperator(task_id="plan", project=project, chunk_size=100_000).execute(context)

    per_chunk = MAX_BYTES // _row_bytes(77)  # the widest row at the snapshot sets the rows per chunk
    assert len(work) == -(-ROWS // per_chunk), "chunks of at most chunk_max_bytes, not one of 100,000 rows"
    sizes = []
    for item in work:
        chunk = Chunk.from_dict(item["chunk"])
        low = 0 if chunk.lower is None else chunk.lower[0]
        high = ROWS if chunk.upper is None else chunk.upper[0]
        sizes.append(sum(_row_bytes(i) for i in range(low, high)))
    assert max(sizes) <= MAX_BYTES, sizes

    results = [FullSyncOperator(task_id="full_sync", project=project, work=item).execute({}) for item in work]
    assert sum(r["rows"] for r in results) == ROWS
    ids = [json.loads(m.value())["postStruct"]["id"] for m in KafkaHook().read_committed(topic, timeout=120)]
    assert sorted(int(i) for i in ids) == list(range(ROWS)), "every row exactly once"
    cur.execute(f"DROP DATABASE {db}")
