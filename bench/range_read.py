"""The worker's range read and the trigger's cycle, timed on one source: the diagnosis of issue 13, item 5.

    .venv/bin/python bench/range_read.py --source obbinlog --rows 20000          # range: dump per file vs one
    .venv/bin/python bench/range_read.py --source obbinlog --rows 0 --cycles 12 --rate 2000  # trigger cycles

Range: `--rows` rows in 50-row INSERT transactions (one row per rows event on the double, as obbinlog writes
every row) are written, then the range is read by `BinlogReader`
twice: with non-blocking dumps (obbinlog sends one file per dump, so one dump per file: the old worker path)
and with one blocking dump that stops at the range's end (the worker's path). Printed per path: rows/s, the
dumps opened and the time spent opening them (connection and session setup).

Cycles: a writer commits 50 one-row INSERTs per transaction at `--rate` rows/s; every 0.6 s (a worker's
produce time) a new trigger scans from where the last one stopped, with the bench's `max_wait_s` 0.1 and
heartbeat 0.05 s. Printed per cycle: changes, how long the scan took, when the first commit arrived after the
reader was created, and where the scan ended against the change log's end.

Uses the running services (`OBKAFKA_TEST_MARIADB`, or devservices under `OBKAFKA_STATE_DIR`); on the double it
needs the double's data folder (devservices), to wait until it has converted the writes.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _range(src: Any, conn: Any, db: str, rows: int) -> None:
    from airflow_provider_obkafka.engine.binlog import reader as reader_module
    from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
    from airflow_provider_obkafka.engine.binlog.wire import DumpStream
    from airflow_provider_obkafka.engine.changes.change import RowChange

    cur = conn.cursor()
    start = src.position()
    for first in range(0, rows, 50):
        values = [(i, f"c{i}", i) for i in range(first, first + 50)]
        cur.executemany(f"INSERT INTO {db}.t VALUES (%s, %s, %s)", values)
        conn.commit()
    end = src.position()
    opens: list[float] = []

    class Timed(DumpStream):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            began = time.perf_counter()
            super().__init__(*args, **kwargs)
            opens.append(time.perf_counter() - began)

    setattr(reader_module, "DumpStream", Timed)  # noqa: B010 - the reader opens its dumps by this name
    hook = src.hook()
    for mode, extra in (("dump per file", {}), ("one blocking dump", {"blocking": True, "stop_at": end})):
        opens.clear()
        count, began = 0, time.perf_counter()
        with BinlogReader(hook.binlog_connection_settings(), 901, start, {(db, "t")},
                          describe=hook.describe_table, oceanbase_commit_ts=src.is_obbinlog,
                          **extra) as reader:  # fmt: skip
            for item in reader.iter_changes():
                count += isinstance(item, RowChange)
                if reader.position.sort_key() >= end.sort_key():
                    break
        took = time.perf_counter() - began
        print(f"{mode}: {count} rows {start.file}..{end.file} in {took:.2f} s ({count / took:,.0f} rows/s), "
              f"{len(opens)} dumps, {sum(opens):.3f} s opening them", flush=True)  # fmt: skip
    setattr(reader_module, "DumpStream", DumpStream)  # noqa: B010


def _cycles(src: Any, maria: Any, db: str, cycles: int, rate: int) -> None:
    import pymysql

    from airflow_provider_obkafka.engine.binlog.transactions import Commit
    from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger

    stop = threading.Event()

    def writer() -> None:
        conn = pymysql.connect(host=maria.host, port=maria.port, user="root", autocommit=False)
        cur, n, began = conn.cursor(), 0, time.monotonic()
        offset = 10**9  # above the range part's ids
        while not stop.is_set():
            time.sleep(max(0.0, began + n * 50 / rate - time.monotonic()))
            for i in range(offset + n * 50, offset + n * 50 + 50):
                cur.execute(f"INSERT INTO {db}.t VALUES (%s, %s, %s)", (i, f"c{i}", i))
            conn.commit()
            n += 1

    position = src.position()
    threading.Thread(target=writer, daemon=True).start()
    for cycle in range(cycles):
        time.sleep(0.6)
        trigger = IncrementalSyncTrigger(ob_conn_id=src.conn_id, server_id=905, tables=[f"{db}.t"],
                                         position=position.model_dump(mode="json"), batch_size=10**7,
                                         max_wait_s=0.1, poll_interval_s=0.05)  # fmt: skip
        began, first = time.perf_counter(), []
        opened = trigger._open(position)

        def timed(items: Any = opened) -> Any:
            for item in items:
                if not first and isinstance(item, Commit):
                    first.append(time.perf_counter() - began)
                yield item

        trigger._items = timed()
        scan = trigger.scan(position, 10**7, time.monotonic() + 0.1)
        while not scan.changes:
            scan = trigger.scan(position, 10**7, time.monotonic())
        trigger.close_stream()
        took, log_end = time.perf_counter() - began, src.hook().binlog_position()
        print(f"cycle {cycle}: {scan.changes} changes in {took * 1000:.0f} ms, first commit after "
              f"{first[0] * 1000:.0f} ms, ended at {scan.last_end.file}:{scan.last_end.position}, log end "
              f"{log_end.file}:{log_end.position}", flush=True)  # fmt: skip
        position = scan.last_end
    stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", choices=["mariadb", "obbinlog"], default="obbinlog")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the range read (0: skip it)")
    parser.add_argument("--cycles", type=int, default=0, help="trigger cycles under a writer (0: skip them)")
    parser.add_argument("--rate", type=int, default=2_000, help="rows/s the writer asks for (cycles)")
    args = parser.parse_args()
    import pymysql

    import devservices

    maria = devservices.external("mariadb") or devservices.info("mariadb")
    double = devservices.info("obbinlog") if args.source == "obbinlog" else None
    os.environ.update(devservices.airflow_env(mariadb=maria, obbinlog=double))
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".services" / "airflow-bench"))
    from tests.integration.sources import Source

    src = Source(args.source, maria, double or maria)
    db = f"bench_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host=maria.host, port=maria.port, user="root", autocommit=False)
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, c VARCHAR(32), n INT)")
    try:
        if args.rows:
            _range(src, conn, db, args.rows)
        if args.cycles:
            _cycles(src, maria, db, args.cycles, args.rate)
    finally:
        cur.execute(f"DROP DATABASE {db}")


if __name__ == "__main__":
    main()
