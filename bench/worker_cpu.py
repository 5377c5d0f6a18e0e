"""The incremental worker's own work per row on one-row events, measured without the host's noise.

    .venv/bin/python bench/worker_cpu.py                      # main-thread CPU µs per row (min of --reps)
    .venv/bin/python bench/worker_cpu.py --count              # instructions per row, under valgrind (callgrind)
    .venv/bin/python bench/worker_cpu.py --count --code ../old-checkout   # the same for another checkout

Why: on these shared 2-core hosts the same code gives 38,000 to 59,000 rows/s within an hour
(docs/benchmarks.md), so a change worth 5 % cannot be seen in `bench/incremental.py`. This bench takes out
what is not the worker's code: it writes `--rows` rows to MariaDB (one INSERT per row, 1,000 per
transaction: the table of `bench/incremental.py --single-row`), captures the dump's packets once, then replays
them through the worker's path, `produce_range` (reader, schema history, router, Default record, sink), with
a producer that sends nothing: no socket, no broker, no librdkafka thread. `--count` runs that replay under
callgrind, counting only inside it (`functools.reduce` runs it, and collection is toggled on that function):
the instruction count is the same from run to run whatever else the host does, so two versions of the code
compare exactly (`--code DIR` imports the package from another checkout; the capture is shared). An
instruction count is not a time: allocation and cache misses weigh more in time than in instructions.

Needs MariaDB (started when not running) and, for `--count`, valgrind (`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from incremental import COLUMNS_SQL  # bench/incremental.py's table (this folder is on the path)

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / ".services" / "bench-worker-cpu"


def capture(rows: int) -> Path:
    """Write the rows, capture the dump's packets and the table's schema; the capture file (kept for reuse)."""
    import pymysql

    import devservices
    from airflow_provider_obkafka.engine.binlog.wire import DumpStream
    from airflow_provider_obkafka.hooks.ob_metadata import read_binlog_position, read_table_schema

    path = CAPTURE / f"rows-{rows}.pickle"
    if path.exists():
        return path
    maria = devservices.external("mariadb") or devservices.ensure_running(["mariadb"])["mariadb"]
    settings = {"host": maria.host, "port": maria.port, "user": "root"}
    db = f"bench_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**settings, autocommit=True)
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.orders ({COLUMNS_SQL})")
    start = read_binlog_position(cur, maria.address)
    sql = f"INSERT INTO {db}.orders VALUES (%s, %s, 'NEW', 12.34, 1, '2024-05-06 07:08:09.123', 0, %s)"
    for first in range(1, rows + 1, 1000):
        cur.execute("BEGIN")
        cur.executemany(sql, [(i, f"customer-{i}", f"note {i}") for i in range(first, min(first + 999, rows) + 1)])
        cur.execute("COMMIT")
    end = read_binlog_position(cur, maria.address)
    schema = read_table_schema(cur, db, "orders")
    packets = list(DumpStream(settings, 4242, start, blocking=False, heartbeat_s=0).packets())
    cur.execute(f"DROP DATABASE {db}")
    conn.close()
    CAPTURE.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        pickle.dump({"db": db, "start": start, "end": end, "schema": schema, "packets": packets, "rows": rows}, out)
    return path


def replay(path: Path, reps: int) -> dict[str, Any]:
    """`produce_range` over the captured packets `reps` times inside `functools.reduce`; the figures."""
    import logging

    from airflow_provider_obkafka.engine.binlog import reader as reader_module
    from airflow_provider_obkafka.engine.changes.change import DbType
    from airflow_provider_obkafka.engine.kafka import checkpoints
    from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
    from airflow_provider_obkafka.engine.pipeline.incremental import produce_range
    from airflow_provider_obkafka.engine.pipeline.range_job import RangeIo, RangeJob, Source
    from airflow_provider_obkafka.engine.pipeline.retry import Backoff, Retrier
    from airflow_provider_obkafka.models.loader import parse_project
    from airflow_provider_obkafka.models.position import BinlogPosition

    with path.open("rb") as source:
        saved = pickle.load(source)  # noqa: S301 - this bench's own capture
    db, packets = saved["db"], saved["packets"]

    class Replay:  # the captured dump, as DumpStream gives it
        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            self.is_mariadb, self.checksum, self.server_info = True, True, "MariaDB (replayed)"

        def packets(self) -> Any:
            return iter(packets)

        def close(self) -> None:
            pass

    class NoProducer:  # a transactional producer that sends nothing
        def produce(self, *_args: Any, **_kwargs: Any) -> None:
            pass

        def poll(self, *_args: Any) -> int:
            return 0

        def begin_transaction(self) -> None:
            pass

        def commit_transaction(self, *_args: Any) -> None:
            pass

        def abort_transaction(self, *_args: Any) -> None:
            pass

    setattr(reader_module, "DumpStream", Replay)  # noqa: B010 - the reader opens its dump by this name
    project = parse_project(
        {"name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": "mariadb_binlog"},
         "topic_defaults": {"partitions": 3},
         "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": f"{db}.orders"}}]}
    )  # fmt: skip
    io = RangeIo(lambda: Source({}, lambda _db, _table: saved["schema"], DbType.MYSQL, None),
                 lambda _id: TransactionalSink(NoProducer(), project.checkpoint_topic), lambda: {})  # type: ignore[arg-type]  # fmt: skip
    log = logging.getLogger("bench.worker_cpu")
    cpu: list[float] = []

    def one(produced: int, _rep: int) -> int:
        job = RangeJob(saved["start"], saved["end"], checkpoints.INCREMENTAL_KEY, ("incremental",),
                       value_of=lambda position, _done: position.model_dump(mode="json"),
                       resume_of=lambda record: BinlogPosition(**record), server_id=project.server_id,
                       batch_size=10_000)  # fmt: skip
        began = time.thread_time()
        produced += produce_range(project, job, io, Retrier(Backoff(give_up_s=1.0), {}), log)
        cpu.append(time.thread_time() - began)
        return produced

    one(0, 0)  # the table's compiled functions are built outside what is measured
    cpu.clear()
    produced = functools.reduce(one, range(reps), 0)
    return {"rows": saved["rows"], "reps": reps, "changes_per_rep": produced // reps,
            "min_us_per_row": round(min(cpu) / saved["rows"] * 1e6, 2),
            "max_us_per_row": round(max(cpu) / saved["rows"] * 1e6, 2)}  # fmt: skip


def count(path: Path, code: Path, rows: int) -> dict[str, Any]:
    """One replay under callgrind, instructions counted inside `functools.reduce` only; the figures."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    out = CAPTURE / f"callgrind-{os.getpid()}.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
               "--toggle-collect=functools_reduce", sys.executable, __file__, "--replay", str(path), "--reps", "1",
               "--code", str(code)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    collected = [line for line in done.stderr.splitlines() if "Collected :" in line]
    out.unlink(missing_ok=True)
    instructions = int(collected[-1].split()[-1])
    return {"rows": rows, "code": str(code), "instructions_per_row": round(instructions / rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5, help="replays timed (the minimum is the figure)")
    parser.add_argument("--count", action="store_true", help="instructions per row under valgrind instead")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose package is measured")
    parser.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # the child under valgrind
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    sys.path.insert(1, str(ROOT))  # devservices
    if args.replay is not None:
        print(json.dumps(replay(args.replay, args.reps)), flush=True)
        return
    path = capture(args.rows)
    figures = count(path, args.code, args.rows) if args.count else replay(path, args.reps)
    print("worker_cpu:", json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
