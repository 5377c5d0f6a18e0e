"""Full synchronization throughput and peak memory: seekdb → Kafka, Default format, one worker process.

    .venv/bin/python bench/full_sync.py                 # 1,000,000 and 250,000 rows, both rendering paths
    .venv/bin/python bench/full_sync.py --rows 500000   # one size
    .venv/bin/python bench/full_sync.py --path server   # only server rendering (`render_on_server=True`)

The freshly filled table is synchronized once seekdb has settled (its background freezing and compaction
of the bulk load, about 100% of a core for a while, has stopped: `--no-settle` skips the wait), so the
figure is that of a table at rest, as a production full sync reads it.

Starts the local services when they are not running. Each size and path runs in its own process, so the
peak RSS it prints is that run's own; the chunks run one after another in that process, as one worker would
run them. `server` is the Default messages written by the source server (`engine.snapshot.render`), `python` the
Python rendering path; both paths run in one session, one after the other, so their ratio is comparable even
on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _fill(cur, db: str, rows: int) -> None:
    """A table of `rows` rows with 8 columns of mixed types."""
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(
        f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, customer VARCHAR(32) NOT NULL, status VARCHAR(12), "
        "total DECIMAL(12,2), qty INT, created DATETIME(3), updated TIMESTAMP(3) NULL, note VARCHAR(64))"
    )
    step = 10_000
    for start in range(0, rows, step):
        cur.executemany(
            f"INSERT INTO {db}.orders VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (i, f"customer-{i % 9973}", "PAID" if i % 3 else "NEW", f"{i % 100000}.{i % 100:02d}", i % 17,
                 "2024-05-06 07:08:09.123", "2024-05-06 07:08:09.456", f"note {i}")
                for i in range(start, min(start + step, rows))
            ],
        )  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settle(pid: int | None, limit: float = 180.0) -> float:
    """Wait until the seekdb process uses under 20% of a core over 2 s (at most `limit` s); the wait."""
    started = time.monotonic()
    while pid and Path(f"/proc/{pid}").exists() and time.monotonic() - started < limit:
        before = _cpu_seconds(pid)
        time.sleep(2.0)
        if _cpu_seconds(pid) - before < 0.4:
            break
    return time.monotonic() - started


def run_one(rows: int, chunk_size: int, on_server: bool, settle_pid: int | None) -> dict:
    """Fill, schema-sync, plan and sync every chunk in this process; returns the figures."""
    import pymysql

    from airflow_provider_obkafka.models.loader import parse_project
    from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
    from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
    from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

    db = f"bench_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host="127.0.0.1", port=int(os.environ["OBKAFKA_SEEKDB_PORT"]), user="root", autocommit=True)
    cur = conn.cursor()
    _fill(cur, db, rows)
    project = parse_project(
        {"name": db, "sync_types": ["schema", "full"],
         "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": f"{db}.orders"}}]}
    )  # fmt: skip
    SchemaSyncOperator(task_id="schema", project=project).execute({})
    settled = _settle(settle_pid)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    work = FullSyncPlanOperator(task_id="plan", project=project, chunk_size=chunk_size).execute(
        {"dag": SimpleNamespace(dag_id="bench"), "run_id": db}
    )
    synced = sum(
        FullSyncOperator(task_id="chunk", project=project, work=item, render_on_server=on_server).execute({})["rows"]
        for item in work
    )
    elapsed = time.perf_counter() - started
    cur.execute(f"DROP DATABASE {db}")
    return {
        "rows": synced,
        "chunks": len(work),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(synced / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_before_sync_mb": round(rss_before / 1024),
        "settle_s": round(settled, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 250_000])
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--path", choices=["server", "python", "both"], default="both")
    parser.add_argument("--no-settle", action="store_true", help="sync right after the bulk load")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        pid = None if args.no_settle else int(os.environ.get("OBKAFKA_SEEKDB_PID") or 0) or None
        print(json.dumps(run_one(args.rows[0], args.chunk_size, args.path == "server", pid)))
        return
    import devservices

    services = devservices.ensure_running()
    env = {**os.environ, **devservices.airflow_env(**services), "OBKAFKA_SEEKDB_PID": str(services["seekdb"].pid or "")}
    env.setdefault("AIRFLOW_HOME", str(ROOT / ".services" / "airflow-bench"))
    paths = ["server", "python"] if args.path == "both" else [args.path]
    print(f"{'rows':>10} {'path':>6} {'chunks':>6} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>11} {'ratio':>6} settled")
    for rows in args.rows:
        rates = {}
        for path in paths:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--rows", str(rows), "--chunk-size", str(args.chunk_size),
                 "--path", path, *(["--no-settle"] if args.no_settle else [])],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            rates[path] = figures["rows_per_s"]
            ratio = f"{rates['server'] / rates['python']:.2f}" if len(rates) == 2 else ""
            print(f"{figures['rows']:>10} {path:>6} {figures['chunks']:>6} {figures['seconds']:>8} "
                  f"{figures['rows_per_s']:>9} {figures['peak_rss_mb']:>11} {ratio:>6} {figures['settle_s']:>6} s",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
