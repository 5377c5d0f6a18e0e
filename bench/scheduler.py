"""
Through the real scheduler: a project's full sync end to end, and the commit→visible lag of incremental sync.

    .venv/bin/python bench/scheduler.py                          # full sync of 1,000,000 rows, then the lag
    .venv/bin/python bench/scheduler.py --rows 1000000 5000000   # several sizes
    .venv/bin/python bench/scheduler.py --part lag --rate 5000   # only the lag
    .venv/bin/python bench/scheduler.py --part full --rows 5000000 --work-items 0 4   # one task per chunk, then 4

Uses the real-Airflow harness (`devservices` `airflow`: scheduler with LocalExecutor, dag-processor, triggerer,
API server, on PostgreSQL; started when not running, and stopped afterwards only then).

Uses the services the environment names (`OBKAFKA_TEST_*`, as the harness does), else starts them.

Full sync: a seekdb table of `--rows` rows (the columns of bench/full_sync.py) in a project of schema and full
sync, default `chunk_size`, triggered through the REST API; the wall time is the DAG run's, from its start to
its end as Airflow records them (precheck, schema sync, plan, the mapped chunks, report, finish). Beside it,
in the same invocation, bench/full_sync.py's engine figure for the same number of rows (one process, chunks
one after another, server rendering). Both print the machine's load average before they start.

Lag: a continuous project (MariaDB binlog, incremental only) runs under the scheduler; once `incremental_sync`
waits in the triggerer, a writer commits `--txn-rows`-row transactions at `--rate` rows/s for `--seconds`, each
row stamped with its commit time, and a read_committed consumer notes when each becomes visible. The first
`--warmup` seconds are left out (the first wake-up from the triggerer and the worker's start).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.full_sync import _fill, _settle  # noqa: E402
from bench.incremental import COLUMNS_SQL, _connect, _consumer, _writer  # noqa: E402


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _engine(rows: int, env: dict[str, str]) -> dict[str, Any]:
    """bench/full_sync.py for `rows` rows (server rendering), in its own process: its figures."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "full_sync.py"), "--child", "--rows", str(rows), "--path", "server"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _deploy(harness: Any, api: Any, project: dict[str, Any]) -> str:
    from airflow_provider_obkafka.dag_factory.naming import dag_id_for

    (harness.projects_dir / f"{project['name']}.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    dag_id = dag_id_for(project["name"])
    api.wait_for_dag(dag_id, timeout=300)
    return dag_id


def _remove(harness: Any, api: Any, name: str, dag_id: str) -> None:
    api.pause(dag_id)
    for run in api.runs(dag_id):
        if run["state"] not in ("success", "failed"):
            api.set_run_state(dag_id, run["dag_run_id"], "failed")
    (harness.projects_dir / f"{name}.yaml").unlink(missing_ok=True)
    api.delete_dag(dag_id)


def full(rows: int, harness: Any, api: Any, seekdb_pid: int | None, work_items: int | None) -> dict[str, Any]:
    """Fill a table, settle, run its project's DAG through the scheduler; the run's figures."""
    import pymysql

    db = f"bench_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host="127.0.0.1", port=int(os.environ["OBKAFKA_SEEKDB_PORT"]), user="root", autocommit=True)
    cur = conn.cursor()
    _fill(cur, db, rows)
    settled = _settle(seekdb_pid)
    project = {"name": db, "sync_types": ["schema", "full"],
               "objects": [{"database": db, "tables": ["orders"],
                            "topic": {"mode": "new", "name": f"{db}.orders"}}]}  # fmt: skip
    if work_items is not None:
        project["options"] = {"full_sync_work_items": work_items}
    dag_id = _deploy(harness, api, project)
    load = _load()
    api.unpause(dag_id)
    run_id = api.trigger(dag_id)
    run = api.wait_for_run(dag_id, run_id, timeout=7200)
    seconds = (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])).total_seconds()
    chunks = [ti for ti in api.task_instances(dag_id, run_id) if ti["task_id"] == "full_sync"]
    _remove(harness, api, db, dag_id)
    cur.execute(f"DROP DATABASE {db}")
    return {"rows": rows, "work_items": work_items, "state": run["state"], "task_instances": len(chunks),
            "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds), "settle_s": round(settled, 1), "load_before": load}  # fmt: skip


def lag(rate: int, seconds: float, txn_rows: int, warmup_s: float, batch_size: int, harness: Any,
        api: Any) -> dict[str, Any]:  # fmt: skip
    """A continuous project under the scheduler; a steady writer; commit→visible lag percentiles."""
    db = f"bench_{uuid.uuid4().hex[:8]}"
    cur = _connect().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(f"CREATE TABLE {db}.orders ({COLUMNS_SQL})")
    project = {"name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": "mariadb_binlog"},
               "options": {"batch_size": batch_size},
               "objects": [{"database": db, "tables": ["orders"],
                            "topic": {"mode": "new", "name": f"{db}.orders"}}]}  # fmt: skip
    dag_id = _deploy(harness, api, project)
    api.unpause(dag_id)
    run_id = api.new_run(dag_id, seen=set(), timeout=300) or api.trigger(dag_id)
    api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred"}, timeout=600)
    load = _load()
    ctx = multiprocessing.get_context("spawn")
    expected, lags_out, written, ready = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
    consumer = ctx.Process(target=_consumer, args=(f"{db}.orders", os.environ["OBKAFKA_KAFKA_BOOTSTRAP"],
                                                   expected, ready, lags_out))  # fmt: skip
    consumer.start()
    ready.wait(60)
    writer = ctx.Process(target=_writer, args=(db, rate, txn_rows, seconds, 1, written, False))
    writer.start()
    wrote = written.get(timeout=seconds + 120)
    writer.join()
    expected.put(wrote["rows"])
    samples = lags_out.get(timeout=600)
    consumer.join(30)
    _remove(harness, api, db, dag_id)
    cur.execute(f"DROP DATABASE {db}")
    first = min(ts for ts, _ in samples) if samples else 0
    steady = sorted(lag_us for ts, lag_us in samples if ts - first >= warmup_s * 1e6)

    def pct(p: float) -> float:
        return round(steady[min(len(steady) - 1, int(p * len(steady)))] / 1e6, 3) if steady else float("nan")

    return {"rate": rate, "seconds": seconds, "txn_rows": txn_rows, "batch_size": batch_size, "written": wrote,
            "seen": len(samples),
            "measured": len(steady), "p50_s": pct(0.50), "p90_s": pct(0.90), "p99_s": pct(0.99), "max_s": pct(1.0),
            "load_before": load}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["full", "lag", "both"], default="both")
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--rate", type=int, default=5_000, help="rows/s written (lag)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the writer writes (lag)")
    parser.add_argument("--txn-rows", type=int, default=50, help="rows per written transaction (lag)")
    parser.add_argument("--batch-size", type=int, default=10_000, help="options.batch_size of the project (lag)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the lag left out at the start")
    parser.add_argument("--work-items", type=int, nargs="*", default=[0],
                        help="options.full_sync_work_items of each full run (0: not set, one task per chunk)")
    args = parser.parse_args()

    import devservices
    from tests.scheduler.airflow_api import AirflowApi

    # the running services (the shared ones where the environment names them), as the harness uses them
    services = {name: devservices.external(name) or devservices.ensure_running([name])[name]
                for name in ("kafka", "seekdb", "mariadb")}  # fmt: skip
    os.environ.update(devservices.airflow_env(**services))
    env = {**os.environ, "AIRFLOW_HOME": str(ROOT / ".services" / "airflow-bench")}
    harness = devservices.service("airflow")
    info = harness.ensure_running()
    api = AirflowApi(f"http://{info.host}:{info.port}")
    print(f"machine: {os.cpu_count()} cores; load average at start {_load()}")
    try:
        if args.part in ("full", "both"):
            for rows in args.rows:
                engine = _engine(rows, {**env, "OBKAFKA_SEEKDB_PID": str(services["seekdb"].pid or "")})
                print("engine   ", json.dumps(engine), flush=True)
                for items in args.work_items:
                    through = full(rows, harness, api, services["seekdb"].pid, items or None)
                    through["of_engine"] = f"{through['rows_per_s'] / engine['rows_per_s']:.0%}"
                    print("scheduler", json.dumps(through), flush=True)
        if args.part in ("lag", "both"):
            measured = lag(args.rate, args.seconds, args.txn_rows, args.warmup, args.batch_size, harness, api)
            print("lag      ", json.dumps(measured), flush=True)
    finally:
        api.close()
        if info.started_by_us:
            devservices.stop(["airflow"])


if __name__ == "__main__":
    main()
