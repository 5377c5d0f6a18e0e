"""Full then continuous incremental synchronization under the real scheduler and triggerer (MariaDB binlog)."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.scheduler.helpers import Writer, as_text, final_state, records_per_key, table_rows

ROWS = 300
COLUMNS = ["id", "qty", "note"]
CYCLES = 3  # defer → trigger fires in the triggerer → resume on a worker, at least this many times
# The INFO summary line: once per range a resume produced, and once more (", idle") when the worker defers
COMMITTED = " changes in the last "
# ...whose idle line counts the changes it streamed after that range, before deferring again
STREAMED = re.compile(r": ([1-9][0-9]*) changes in the last [^;\n]+;[^\n]*?, idle")
DEFERRED = "Pausing task as DEFERRED"
IDLE_S, BURST_S, PAUSE_S = 2, 12, 6  # the worker streams through a burst, defers in each pause


@pytest.fixture
def items(mariadb_database):
    """A MariaDB table of ROWS rows; returns (database, connection)."""
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.items (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(20))")
        cur.executemany(f"INSERT INTO {db}.items VALUES (%s, %s, %s)", [(i, i % 7, "seed") for i in range(ROWS)])
    return db, conn


def test_full_then_continuous_incremental_through_the_triggerer(
    airflow_api, deploy_project, airflow_conn_env, mariadb_conn, items
):
    db, conn = items
    topic = f"{db}.items"
    dag_id = deploy_project({
        "name": db, "sync_types": ["schema", "full", "incremental"], "source": {"conn_id": "mariadb_binlog"},
        "objects": [{"database": db, "tables": ["items"], "topic": {"mode": "new", "name": topic}}],
        "options": {"idle_before_defer_s": IDLE_S},
    })  # fmt: skip
    airflow_api.unpause(dag_id)
    run_id = airflow_api.new_run(dag_id, seen=set())  # @continuous: unpausing starts the run
    assert run_id is not None, "no run after unpausing the continuous project"
    airflow_api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred"}, timeout=300)
    assert airflow_api.states(dag_id, run_id)["full_sync"] == ["success"]

    writer = Writer(mariadb_conn(), f"{db}.items", next_id=ROWS, burst_s=BURST_S, pause_s=PAUSE_S)
    writer.start()
    segments = _wait_for_cycles(airflow_api, dag_id, run_id, CYCLES, timeout=300)
    writer.stop.set()
    writer.join(timeout=30)
    assert writer.error is None, writer.error
    assert airflow_api.run(dag_id, run_id)["state"] == "running", "a continuous run goes on"
    ti = airflow_api.wait_for_task(dag_id, run_id, "incremental_sync",
                                   {"deferred", "running", "scheduled", "queued"})  # fmt: skip
    assert ti["try_number"] == 1, "no resume was taken for a killed task and retried (options.defer_hold_s)"

    kafka = KafkaHook()
    per_key = _wait_for_changes(kafka, topic, sum(writer.changes.values()), timeout=120)
    rows = Counter(key for key, records in per_key.items() for r in records if r["recordType"] == "ROW")
    assert set(rows.values()) == {1} and len(rows) == ROWS, "every row of the full sync once"
    changes = Counter({key: sum(r["recordType"] != "ROW" for r in records) for key, records in per_key.items()})
    assert +changes == +writer.changes, "every committed change once"
    with conn.cursor() as cur:
        assert as_text(final_state(per_key)) == table_rows(cur, db, "items", COLUMNS)
    assert sum(COMMITTED in part for part in segments[1:]) >= CYCLES, "resumed from the triggerer, produced"
    assert any(STREAMED.search(part) for part in segments), "streamed while the changes kept coming"


def _wait_for_cycles(api, dag_id: str, run_id: str, wanted: int, timeout: float) -> list[str]:
    """
    Poll the incremental task's log until it has resumed from the trigger and produced changes `wanted` times,
    one of them streaming more changes before deferring again (its summary lines); the log cut at each deferral.
    """
    deadline = time.monotonic() + timeout
    while True:
        ti = api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred", "running", "scheduled", "queued"})
        segments = api.log_text(dag_id, run_id, "incremental_sync", ti["try_number"]).split(DEFERRED)
        cycles = sum(COMMITTED in part for part in segments[1:])
        if cycles >= wanted and any(STREAMED.search(part) for part in segments):
            return segments
        assert time.monotonic() < deadline, f"{cycles} cycles after {timeout:.0f} s: {segments}"
        time.sleep(2.0)


def _wait_for_changes(kafka: KafkaHook, topic: str, expected: int, timeout: float) -> dict:
    """Read the topic until it holds ``expected`` change messages (beside the ROW ones); the records per key."""
    deadline = time.monotonic() + timeout
    while True:
        per_key = records_per_key(kafka, topic)
        seen = sum(r["recordType"] != "ROW" for records in per_key.values() for r in records)
        if seen >= expected or time.monotonic() > deadline:
            return per_key
        time.sleep(3.0)
