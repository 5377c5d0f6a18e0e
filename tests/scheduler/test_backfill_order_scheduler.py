"""
`airflow backfill create` with its default of 10 runs side by side: the incremental project still produces its
intervals one at a time, oldest first, so each key's changes reach Kafka in commit order (real scheduler).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import datetime, timedelta

import devservices
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from devservices.airflow_config import airflow_binary
from tests.scheduler.helpers import as_text, final_state, records_per_key, table_rows
from tests.scheduler.test_backfill_scheduler import INTERVALS, _backfill_runs, intervals_written

COLUMNS = ["id", "qty", "note"]


def test_backfill_intervals_run_oldest_first_without_max_active_runs(
    airflow_api, deploy_project, airflow_conn_env, mariadb_conn, mariadb_database
):
    db, conn = mariadb_database
    dag_id, topic, first, writer = intervals_written(deploy_project, mariadb_conn, mariadb_database)

    last = first + timedelta(minutes=INTERVALS - 1)
    cmd = [*airflow_binary(), "backfill", "create", "--dag-id", dag_id, "--from-date", first.isoformat(),
           "--to-date", last.isoformat()]  # fmt: skip  # no --max-active-runs: Airflow's default, 10
    proc = subprocess.run(cmd, env=devservices.service("airflow").cli_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    airflow_api.unpause(dag_id)

    runs = sorted(_backfill_runs(airflow_api, dag_id, INTERVALS, timeout=900), key=lambda r: r["data_interval_start"])
    assert {run["state"] for run in runs} == {"success"}, [airflow_api.states(dag_id, r["dag_run_id"]) for r in runs]
    spans = [_production_span(airflow_api, dag_id, run["dag_run_id"]) for run in runs]
    for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
        assert later_start >= earlier_end, f"an interval read the log before the one before it had ended: {spans}"

    per_key = records_per_key(KafkaHook(), topic)
    changes = Counter({key: len(records) for key, records in per_key.items()})
    assert +changes == +writer.changes, "every change of the three intervals once"
    with conn.cursor() as cur:
        assert as_text(final_state(per_key)) == table_rows(cur, db, "items", COLUMNS), "each key in commit order"


def _production_span(api, dag_id: str, run_id: str) -> tuple[datetime, datetime]:
    """When the run's incremental_sync began reading its interval (its log line), and when the task ended."""
    (ti,) = [ti for ti in api.task_instances(dag_id, run_id) if ti["task_id"] == "incremental_sync"]
    log = api.log_text(dag_id, run_id, "incremental_sync", ti["try_number"])
    reads = [line for line in log.splitlines() if "backfill of [" in line and " reads " in line]
    assert reads, log[-3000:]
    return datetime.fromisoformat(reads[-1].split()[0]), datetime.fromisoformat(ti["end_date"])
