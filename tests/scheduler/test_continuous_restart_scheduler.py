"""A continuous project starts a new run by itself after a failed one, and resumes exactly once (real scheduler)."""

from __future__ import annotations

import time
from collections import Counter

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.scheduler.airflow_api import set_task_state
from tests.scheduler.helpers import Writer, as_text, final_state, table_rows
from tests.scheduler.test_incremental_scheduler import COMMITTED, _wait_for_changes

ROWS = 100
COLUMNS = ["id", "qty", "note"]


def test_continuous_project_restarts_after_a_failed_run(
    airflow_api, deploy_project, airflow_conn_env, mariadb_conn, mariadb_database
):
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.items (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(20))")
        cur.executemany(f"INSERT INTO {db}.items VALUES (%s, %s, %s)", [(i, i % 7, "seed") for i in range(ROWS)])
    topic = f"{db}.items"
    dag_id = deploy_project({
        "name": db, "sync_types": ["schema", "full", "incremental"], "source": {"conn_id": "mariadb_binlog"},
        "objects": [{"database": db, "tables": ["items"], "topic": {"mode": "new", "name": topic}}],
        "options": {"idle_before_defer_s": 2},
    })  # fmt: skip
    airflow_api.unpause(dag_id)
    first = airflow_api.new_run(dag_id, seen=set(), timeout=120)
    if first is None:  # a DAG without a timetable waits for a trigger (the product before @continuous)
        first = airflow_api.trigger(dag_id)
    airflow_api.wait_for_task(dag_id, first, "incremental_sync", {"deferred", "running"}, timeout=300)

    writer = Writer(mariadb_conn(), f"{db}.items", next_id=ROWS)
    writer.start()
    _wait_for_log(airflow_api, dag_id, first, COMMITTED, timeout=300)  # it has a checkpoint to resume from
    set_task_state(airflow_api, dag_id, first, "incremental_sync", "failed")  # the run fails while changes flow
    assert airflow_api.wait_for_run(dag_id, first, timeout=300)["state"] == "failed"
    second = airflow_api.new_run(dag_id, seen={first}, timeout=180)
    assert second is not None, "no new run after the failed one: the continuous project stopped"
    airflow_api.wait_for_task(dag_id, second, "incremental_sync", {"deferred", "running"}, timeout=300)
    time.sleep(5)  # changes after the restart too
    writer.stop.set()
    writer.join(timeout=30)
    assert writer.error is None, writer.error
    assert airflow_api.states(dag_id, second)["full_sync_plan"] == ["skipped"], "resumed, no new full sync"

    per_key = _wait_for_changes(KafkaHook(), topic, sum(writer.changes.values()), timeout=180)
    rows = Counter(key for key, records in per_key.items() for r in records if r["recordType"] == "ROW")
    assert set(rows.values()) == {1} and len(rows) == ROWS, "every row of the full sync once"
    changes = Counter({key: sum(r["recordType"] != "ROW" for r in records) for key, records in per_key.items()})
    assert +changes == +writer.changes, "every committed change once, across the failed run and the new one"
    with conn.cursor() as cur:
        assert as_text(final_state(per_key)) == table_rows(cur, db, "items", COLUMNS)



def _wait_for_log(api, dag_id: str, run_id: str, text: str, timeout: float) -> None:
    """Poll the run's incremental_sync log (its current try) until it holds ``text``."""
    deadline = time.monotonic() + timeout
    while True:
        ti = api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred", "running", "scheduled", "queued"})
        if text in api.log_text(dag_id, run_id, "incremental_sync", ti["try_number"]):
            return
        assert time.monotonic() < deadline, f"no {text!r} in the log after {timeout:.0f} s"
        time.sleep(2.0)
