"""Incremental synchronization throughput and commit-to-visible lag: change log → Kafka, Default format.

    .venv/bin/python bench/incremental.py                       # both parts, default sizes, MariaDB
    .venv/bin/python bench/incremental.py --part throughput --rows 500000 --profile 25
    .venv/bin/python bench/incremental.py --part lag --rate 5000 --seconds 30
    .venv/bin/python bench/incremental.py --source both --single-row   # MariaDB, then the obbinlog double
    .venv/bin/python bench/incremental.py --part throughput --source both --single-row --pin

`--source`: `mariadb` reads MariaDB's binlog (connection `mariadb_binlog`); `obbinlog` reads the obbinlog test
double (`devservices/obbinlog`, connection `obbinlog`), which re-encodes MariaDB's transactions as the OceanBase
Binlog Service writes them: one TABLE_MAP and one rows event per row, a GTID with a µs commit time, 64 KiB
files. The double converts a backlog at roughly 25,000-35,000 rows/s, below the product's target, so the
throughput part first waits until the double holds every written row (`double_convert_s`, not timed in
rows/s) and then times the worker on that pre-filled backlog: the figure is the product's reading the double's
files. The lag part writes at `--rate` while the double converts: its lag includes the double's conversion.

Throughput: `--rows` rows (8 columns of mixed types) are written beforehand in transactions of `--txn-rows`
rows, then one `IncrementalSyncOperator.execute_complete` (the worker's code path: fence the producer, read
the checkpoint, `BinlogReader` → router → `TransactionalSink`, commit with the checkpoint) produces the whole
range; rows/s is counted to the committed (acknowledged) Kafka transaction. `main_thread_cpu_s` is the CPU
time of the thread that reads, serializes and produces (librdkafka's threads are in `cpu_s` only): on a
shared host it shows whether a slow run did more work or got less of the CPU. `--profile N` runs it under
cProfile and prints the N most expensive functions (cumulative and own time). `--pin` times the worker on a
CPU of its own, the local services (broker, MariaDB, the double) on the others, as a worker process runs in
production, away from the broker and the database (`pinned` in the figures; docs/benchmarks.md compares).

Lag: a writer process commits transactions of `--txn-rows-lag` rows at `--rate` rows/s for `--seconds`,
each row carrying the wall time (µs) just before its COMMIT; the sync loop is driven as Airflow drives it,
without the scheduler's hops: `execute()` defers, the trigger's `run()` waits for committed changes (the
polling trigger), `execute_complete()` produces the range and defers again, and so on; a `read_committed`
consumer process notes when each row becomes visible. Lag = visible − commit, p50/p99/max over the rows
after a warm-up. Airflow's own defer/resume latency (scheduler and triggerer round trips) is not in it.
`--stream-idle S` drives a continuous task instead (`continuous`, `idle_before_defer_s=S`): after the first
range the worker keeps streaming (one open range, docs/architecture.md) until no change came for S seconds.

Starts the local services when they are not running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import multiprocessing
import os
import pstats
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS_SQL = (
    "id BIGINT PRIMARY KEY, customer VARCHAR(32) NOT NULL, status VARCHAR(12), total DECIMAL(12,2), qty INT, "
    "created DATETIME(3), written_us BIGINT NOT NULL, note VARCHAR(64)"
)


def _connect(autocommit: bool = True) -> Any:
    import pymysql

    return pymysql.connect(host=os.environ["OBKAFKA_MARIADB_HOST"], port=int(os.environ["OBKAFKA_MARIADB_PORT"]),
                           user="root", autocommit=autocommit)  # fmt: skip


CONN_IDS = {"mariadb": "mariadb_binlog", "obbinlog": "obbinlog"}


def _caught_up(source_kind: str) -> float:
    """
    Wait until the double holds every transaction MariaDB committed; the seconds waited. Also when MariaDB is
    the source and the double runs: converting the bench's rows, it would take CPU from the timed worker.
    """
    import devservices
    from tests.integration.sources import Source

    started = time.perf_counter()
    double = devservices.info("obbinlog")
    if source_kind == "obbinlog" or double is not None:
        Source("obbinlog", devservices.info("mariadb"), double).caught_up(timeout=600)
    return round(time.perf_counter() - started, 2)


def _threads(pid: int) -> list[int]:
    """The thread ids of a process and of its child processes (recursively); none when it is gone."""
    found: list[int] = []
    try:
        found += [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _threads(int(child))
    return found


@contextlib.contextmanager
def _pinned(enabled: bool) -> Iterator[dict[str, list[int]] | None]:
    """
    With `enabled`: the worker (this process's threads, and the librdkafka threads it starts, which inherit
    it) on the last CPU, the local services (Kafka, MariaDB, the obbinlog double, seekdb: every thread) on
    the others, as in production, where the broker and the database are not on the worker's machine: they
    cannot preempt the worker, whose wall time then shows its own work. The affinities are restored afterwards.
    """
    if not enabled:
        yield None
        return
    import devservices

    every = sorted(os.sched_getaffinity(0))
    if len(every) < 2:
        raise SystemExit(f"--pin needs 2 CPUs or more; this process may use {every}")
    worker, services = every[-1:], every[:-1]
    saved: dict[int, set[int]] = {}

    def pin(tids: list[int], cpus: list[int]) -> None:
        for tid in tids:
            try:
                saved.setdefault(tid, os.sched_getaffinity(tid))
                os.sched_setaffinity(tid, cpus)
            except OSError:  # a thread that ended meanwhile
                pass

    for name in ("kafka", "mariadb", "obbinlog", "seekdb"):
        found = devservices.info(name)
        if found is not None and found.pid:
            pin(_threads(found.pid), services)
    pin(_threads(os.getpid()), worker)
    try:
        yield {"worker_cpus": worker, "service_cpus": services}
    finally:
        for tid, cpus in saved.items():
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass


def _project(db: str, source_kind: str, partitions: int = 3) -> Any:
    from airflow_provider_obkafka.models.loader import parse_project

    return parse_project(
        {"name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": CONN_IDS[source_kind]},
         "topic_defaults": {"partitions": partitions},
         "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": f"{db}.orders"}}]}
    )  # fmt: skip


def _setup(cur: Any, db: str, source_kind: str) -> Any:
    """The database, the table, and the project's topics (schema sync)."""
    from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.orders ({COLUMNS_SQL})")
    project = _project(db, source_kind)
    SchemaSyncOperator(task_id="schema", project=project).execute({})
    return project


def _insert_sql(db: str, first: int, last: int) -> str:
    """INSERT of ids first..last from the sequence engine, values of every column type in the table."""
    return (
        f"INSERT INTO {db}.orders SELECT seq, CONCAT('customer-', seq % 9973), IF(seq % 3, 'PAID', 'NEW'), "
        f"(seq % 100000) + (seq % 100) / 100, seq % 17, '2024-05-06 07:08:09.123', "
        f"CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS UNSIGNED), CONCAT('note ', seq) FROM seq_{first}_to_{last}"
    )


def _event(start: Any, end: Any, changes: int) -> dict[str, Any]:
    return {"status": "ready", "start": start.model_dump(mode="json"), "end": end.model_dump(mode="json"),
            "changes": changes, "reached_end": True}  # fmt: skip


class _GcTimer:
    """Time spent in the garbage collector while in the `with` block (all generations)."""

    def __init__(self) -> None:
        self.seconds, self.collections, self._at = 0.0, {0: 0, 1: 0, 2: 0}, 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._at = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._at
            self.collections[info["generation"]] += 1

    def __enter__(self) -> _GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def throughput(
    rows: int, txn_rows: int, profile: int, single: bool, source_kind: str, pin: bool = False
) -> dict[str, Any]:
    """Write `rows` rows (`single`: one INSERT statement per row), then produce them with one
    execute_complete; the figures."""
    from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
    from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator

    db = f"bench_{uuid.uuid4().hex[:8]}"
    conn = _connect()
    cur = conn.cursor()
    project = _setup(cur, db, source_kind)
    source = OceanBaseHook(ob_conn_id=CONN_IDS[source_kind])
    _caught_up(source_kind)
    start = source.binlog_position()
    cur.execute(f"USE {db}")
    single_sql = f"INSERT INTO {db}.orders VALUES (%s, %s, 'NEW', 12.34, 1, '2024-05-06 07:08:09.123', 0, %s)"
    for first in range(1, rows + 1, txn_rows):
        last = min(first + txn_rows - 1, rows)
        if single:  # executemany runs one statement per row: VALUES holds literals
            cur.execute("BEGIN")
            cur.executemany(single_sql, [(i, f"customer-{i}", f"note {i}") for i in range(first, last + 1)])
            cur.execute("COMMIT")
        else:
            cur.execute(_insert_sql(db, first, last))
    convert_s = _caught_up(source_kind)
    end = source.binlog_position()
    reader_figures = {mode: _read_only(source, project, start, end, mode) for mode in ("fast", "library")}
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project)
    profiler = cProfile.Profile() if profile else None
    gc_time = _GcTimer()
    with _pinned(pin) as pinned:
        started_cpu, started_main, started = time.process_time(), time.thread_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        with gc_time:
            result = operator.execute_complete({}, _event(start, end, rows))
        if profiler is not None:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        main_cpu = time.thread_time() - started_main
    cur.execute(f"DROP DATABASE {db}")
    figures = {"source": source_kind, "double_convert_s": convert_s, "single_row_statements": single, "rows": result["changes"], "transactions": -(-rows // txn_rows), "seconds": round(elapsed, 2),
               "rows_per_s": round(result["changes"] / elapsed), "cpu_s": round(cpu, 2),
               "rows_per_cpu_s": round(result["changes"] / cpu), "main_thread_cpu_s": round(main_cpu, 2),
               "gc_s": round(gc_time.seconds, 2),
               "gc_collections": gc_time.collections, "pinned": pinned, "reader_alone": reader_figures}  # fmt: skip
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
        figures["profile"] = out.getvalue()
    return figures


def _read_only(source: Any, project: Any, start: Any, end: Any, mode: str) -> dict[str, Any]:
    """The change-log reader alone over the range (no Kafka): rows/s with the fast or the library decoder."""
    from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
    from airflow_provider_obkafka.engine.changes.change import RowChange

    tables = {(entry.database, table) for entry in project.objects for table in entry.tables}
    rows, started_cpu, started = 0, time.process_time(), time.perf_counter()
    with BinlogReader(
        source.binlog_connection_settings(), project.server_id + 7, start, tables, fast_rows=mode == "fast",
        describe=source.describe_table,  # obbinlog's TABLE_MAP names no columns, as the worker's reader does
    ) as reader:
        for item in reader.iter_changes():
            rows += isinstance(item, RowChange)
            if reader.position.sort_key() >= end.sort_key():
                break
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return {"rows": rows, "rows_per_s": round(rows / elapsed), "rows_per_cpu_s": round(rows / cpu)}


# ---------------------------------------------------------------- lag
def _writer(
    db: str, rate: int, txn_rows: int, seconds: float, first_id: int, done: Any, single: bool
) -> None:
    """
    Commit `txn_rows`-row transactions at `rate` rows/s for `seconds`, as one multi-row INSERT each, or as
    `txn_rows` single-row INSERTs (`single`: one TABLE_MAP and one rows event per row, as obbinlog writes
    every row); reports rows and commits written.
    """
    conn = _connect(autocommit=False)
    cur = conn.cursor()
    literal = "'NEW', 12.34, 1, '2024-05-06 07:08:09.123'" if single else "%s, %s, %s, %s"
    sql = f"INSERT INTO {db}.orders VALUES (%s, %s, {literal}, %s, %s)"
    fixed = () if single else ("NEW", "12.34", 1, "2024-05-06 07:08:09.123")
    interval = txn_rows / rate
    next_id, commits, behind = first_id, 0, 0.0
    started = time.monotonic()
    while (now := time.monotonic()) - started < seconds:
        due = started + commits * interval
        if due > now:
            time.sleep(due - now)
        else:
            behind = max(behind, now - due)
        stamp = time.time_ns() // 1000
        cur.executemany(
            sql,
            [(i, f"customer-{i}", *fixed, stamp, f"note {i}") for i in range(next_id, next_id + txn_rows)],
        )
        conn.commit()
        next_id += txn_rows
        commits += 1
    done.put({"rows": next_id - first_id, "commits": commits, "max_behind_s": round(behind, 3),
              "seconds": round(time.monotonic() - started, 2)})  # fmt: skip


def _consumer(topic: str, bootstrap: str, expected: Any, ready: Any, out: Any) -> None:
    """Note when each row becomes visible to a read_committed consumer; reports the lags in µs."""
    import orjson
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"lag-{uuid.uuid4().hex[:8]}",
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 10})  # fmt: skip
    consumer.subscribe([topic])
    lags: list[tuple[int, int]] = []
    ready.set()
    want = None
    deadline = None
    while want is None or len(lags) < want:
        if want is None and not expected.empty():
            want = expected.get()
            deadline = time.monotonic() + 120
        if deadline is not None and time.monotonic() > deadline:
            break
        for msg in consumer.consume(num_messages=1000, timeout=0.05):
            if msg.error() is not None:
                continue
            seen = time.time_ns() // 1000
            post = orjson.loads(msg.value())["postStruct"]
            lags.append((post["written_us"], seen - post["written_us"]))
    consumer.close()
    out.put(lags)


def _drive(operator: Any, stop: Any, cycles: list[dict[str, Any]]) -> None:
    """execute → trigger.run → execute_complete → ... as Airflow would, until `stop` is set after a cycle."""
    from airflow.sdk.exceptions import TaskDeferred

    async def first_event(trigger: Any) -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError("the trigger ended without an event")

    context: dict[str, Any] = {"data_interval_end": None}
    try:
        operator.execute(context)
        raise RuntimeError("execute() did not defer")
    except TaskDeferred as deferred:
        trigger = deferred.trigger
    while not stop():
        t0 = time.perf_counter()
        event = asyncio.run(first_event(trigger))
        t1 = time.perf_counter()
        try:
            result = operator.execute_complete(context, event)
            raise RuntimeError(f"execute_complete() did not defer: {result}")
        except TaskDeferred as deferred:
            trigger = deferred.trigger
        cycles.append({"wait_s": t1 - t0, "produce_s": time.perf_counter() - t1, "changes": event["changes"]})


def lag(rate: int, seconds: float, txn_rows: int, batch_size: int, max_wait_s: float, poll_s: float,
        warmup_s: float, single: bool, source_kind: str, stream_idle_s: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """Steady load, the sync loop driven like the operator and trigger, lag percentiles."""
    import threading

    from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator

    db = f"bench_{uuid.uuid4().hex[:8]}"
    conn = _connect()
    cur = conn.cursor()
    project = _setup(cur, db, source_kind)
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=batch_size,
                                       max_wait_s=max_wait_s, poll_interval_s=poll_s,
                                       continuous=stream_idle_s > 0, idle_before_defer_s=stream_idle_s,
                                       defer_hold_s=0)  # fmt: skip  # no scheduler to race here
    ctx = multiprocessing.get_context("spawn")
    expected, lags_out, written, ready = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
    consumer = ctx.Process(target=_consumer, args=(f"{db}.orders", os.environ["OBKAFKA_KAFKA_BOOTSTRAP"],
                                                   expected, ready, lags_out))  # fmt: skip
    consumer.start()
    ready.wait(60)
    cycles: list[dict[str, Any]] = []
    finished = threading.Event()
    driver = threading.Thread(target=_drive, args=(operator, finished.is_set, cycles), daemon=True)
    driver.start()
    time.sleep(2)  # the first cycle records the checkpoint; the writer starts after it
    writer = ctx.Process(target=_writer, args=(db, rate, txn_rows, seconds, 1, written, single))
    writer.start()
    wrote = written.get(timeout=seconds + 120)
    writer.join()
    expected.put(wrote["rows"])
    samples = lags_out.get(timeout=300)
    finished.set()
    consumer.join(30)
    driver.join(60)
    cur.execute(f"DROP DATABASE {db}")
    first = min(ts for ts, _ in samples) if samples else 0
    steady = sorted(lag_us for ts, lag_us in samples if ts - first >= warmup_s * 1e6)

    def pct(p: float) -> float:
        return round(steady[min(len(steady) - 1, int(p * len(steady)))] / 1e6, 3) if steady else float("nan")

    busy = [c for c in cycles if c["changes"]]
    return {"source": source_kind, "stream_idle_s": stream_idle_s, "rate": rate, "seconds": seconds, "txn_rows": txn_rows, "single_row_statements": single, "written": wrote, "seen": len(samples),
            "measured": len(steady), "p50_s": pct(0.50), "p90_s": pct(0.90), "p99_s": pct(0.99), "max_s": pct(1.0),
            "cycles": len(busy), "mean_changes_per_cycle": round(sum(c["changes"] for c in busy) / max(1, len(busy))),
            "mean_wait_s": round(sum(c["wait_s"] for c in busy) / max(1, len(busy)), 3),
            "mean_produce_s": round(sum(c["produce_s"] for c in busy) / max(1, len(busy)), 3),
            "cycle_list": [[round(c["wait_s"], 2), round(c["produce_s"], 2), c["changes"]] for c in busy]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["throughput", "lag", "both"], default="both")
    parser.add_argument("--source", choices=["mariadb", "obbinlog", "both"], default="mariadb",
                        help="the change log read: MariaDB's binlog, the obbinlog double, or each in turn")  # fmt: skip
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument(
        "--txn-rows", type=int, default=1_000, help="rows per written transaction (throughput)"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile, print the top N functions"
    )
    parser.add_argument("--rate", type=int, default=5_000, help="rows/s written (lag)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the writer writes (lag)")
    parser.add_argument("--txn-rows-lag", type=int, default=50, help="rows per written transaction (lag)")
    parser.add_argument(
        "--single-row", action="store_true", help="single-row INSERT statements, not multi-row"
    )
    parser.add_argument("--batch-size", type=int, default=1_000_000, help="trigger batch_size (lag)")
    parser.add_argument("--max-wait", type=float, default=0.1, help="trigger max_wait_s (lag)")
    parser.add_argument("--poll", type=float, default=0.05, help="trigger poll_interval_s (lag)")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of rows left out of the lag figures"
    )
    parser.add_argument("--pin", action="store_true",
                        help="throughput: the worker on the last CPU, the local services on the others")  # fmt: skip
    parser.add_argument("--stream-idle", type=float, nargs="*", default=[0.0],
                        help="lag: 0 defers after each range; S > 0 streams until idle for S s (each in turn)")
    args = parser.parse_args()
    import logging

    import devservices

    sources = ["mariadb", "obbinlog"] if args.source == "both" else [args.source]
    services = ["kafka", "mariadb"] + (["obbinlog"] if "obbinlog" in sources else [])
    running = {name: devservices.external(name) or devservices.ensure_running([name])[name] for name in services}
    os.environ.update(devservices.airflow_env(**running))
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".services" / "airflow-bench"))
    logging.basicConfig(level=logging.WARNING)
    for source_kind in sources:
        if args.part in ("throughput", "both"):
            figures = throughput(args.rows, args.txn_rows, args.profile, args.single_row, source_kind, args.pin)
            profile = figures.pop("profile", None)
            print("throughput:", json.dumps(figures), flush=True)
            if profile:
                print(profile, flush=True)
        if args.part in ("lag", "both"):
            for idle in args.stream_idle:
                figures = lag(args.rate, args.seconds, args.txn_rows_lag, args.batch_size, args.max_wait, args.poll,
                              args.warmup, args.single_row, source_kind, idle)  # fmt: skip
                print("lag:", json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
