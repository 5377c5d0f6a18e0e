"""A scheduled project's past intervals re-produced by `airflow backfill create` under the real scheduler."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import devservices
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from devservices.airflow_config import airflow_binary
from tests.scheduler.helpers import Writer, as_text, final_state, records_per_key, table_rows

INTERVALS = 3  # whole minutes of the project's "* * * * *" schedule, a writer committing through all of them
COLUMNS = ["id", "qty", "note"]


def test_backfill_of_three_intervals_exactly_once(airflow_api, deploy_project, airflow_conn_env, mariadb_conn,
                                                  mariadb_database):  # fmt: skip
    db, conn = mariadb_database
    dag_id, topic, first, writer = intervals_written(deploy_project, mariadb_conn, mariadb_database)
    assert sum(writer.changes.values()) > 100

    last = first + timedelta(minutes=INTERVALS - 1)
    # One run at a time, oldest first: by default a backfill runs up to 10 intervals side by side, whose
    # changes then reach each key's partition out of commit order (seen here: a key's DELETE before its INSERT).
    cmd = [*airflow_binary(), "backfill", "create", "--dag-id", dag_id, "--from-date", first.isoformat(),
           "--to-date", last.isoformat(), "--max-active-runs", "1"]  # fmt: skip
    env = devservices.service("airflow").cli_env()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # Unpaused only now: the scheduler's own run for the latest interval finds the backfill's run there and
    # is skipped; unpaused earlier, a scheduled run would have followed those intervals itself.
    airflow_api.unpause(dag_id)

    runs = _backfill_runs(airflow_api, dag_id, INTERVALS, timeout=600)
    assert sorted(run["data_interval_start"][:16] for run in runs) == [
        (first + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M") for i in range(INTERVALS)
    ]
    assert {run["state"] for run in runs} == {"success"}, [airflow_api.states(dag_id, r["dag_run_id"])
                                                           for r in runs]  # fmt: skip

    per_key = records_per_key(KafkaHook(), topic)
    changes = Counter({key: len(records) for key, records in per_key.items()})
    assert +changes == +writer.changes, "every change of the three intervals once"
    with conn.cursor() as cur:
        assert as_text(final_state(per_key)) == table_rows(cur, db, "items", COLUMNS)


def intervals_written(deploy_project, mariadb_conn, mariadb_database) -> tuple[str, str, datetime, Writer]:
    """
    A scheduled ("* * * * *") schema + incremental project of table `items`, deployed paused, and a writer that
    committed changes through the INTERVALS whole minutes starting at the returned `first`, every change inside
    them and none on their edges (header times are whole seconds); returns (dag_id, topic, first, writer).
    """
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.items (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(20))")
    topic = f"{db}.items"
    dag_id = deploy_project({
        "name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": "mariadb_binlog"},
        "incremental": {"schedule": "* * * * *"},
        "objects": [{"database": db, "tables": ["items"], "topic": {"mode": "new", "name": topic}}],
    })  # fmt: skip
    first = (datetime.now(UTC) + timedelta(seconds=62)).replace(second=0, microsecond=0)
    end = first + timedelta(minutes=INTERVALS)
    writer = Writer(mariadb_conn(), f"{db}.items", next_id=0, start_at=first.timestamp() + 1,
                    stop_at=end.timestamp() - 1)  # fmt: skip
    writer.start()
    writer.join(timeout=(end - datetime.now(UTC)).total_seconds() + 30)
    assert writer.error is None, writer.error
    return dag_id, topic, first, writer


def _backfill_runs(api, dag_id: str, count: int, timeout: float) -> list[dict]:
    """Wait until the DAG has ``count`` finished backfill runs; return them."""
    deadline = time.monotonic() + timeout
    while True:
        runs = [run for run in api.runs(dag_id) if run["run_type"] == "backfill"]
        if len(runs) >= count and all(run["state"] in ("success", "failed") for run in runs):
            return runs
        assert time.monotonic() < deadline, f"backfill runs after {timeout:.0f} s: {runs}"
        time.sleep(3.0)
