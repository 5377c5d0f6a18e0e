"""Full then continuous incremental synchronization under the real scheduler and triggerer (MariaDB binlog)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.scheduler.helpers import as_text, final_state, records_per_key, table_rows

ROWS = 300
COLUMNS = ["id", "qty", "note"]
CYCLES = 3  # defer → trigger fires in the triggerer → resume on a worker, at least this many times
RESUMED = "changes committed up to"  # logged once per resume (a batch far larger than a cycle's changes)


class Writer(threading.Thread):
    """Commits one-row transactions (insert, update, delete) until stopped; counts the changes per key."""

    def __init__(self, connect, db: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.db = connect(), db
        self.changes: Counter[str] = Counter()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rng, next_id = random.Random(14), ROWS
        try:
            with self.conn.cursor() as cur:
                while not self.stop.is_set():
                    cur.execute(f"SELECT id FROM {self.db}.items ORDER BY RAND() LIMIT 1")
                    (key,) = cur.fetchone()
                    kind = rng.choice(("insert", "update", "update", "delete"))
                    if kind == "insert":
                        key, next_id = next_id, next_id + 1
                        cur.execute(f"INSERT INTO {self.db}.items VALUES (%s, 0, 'new')", (key,))
                    elif kind == "update":
                        cur.execute(f"UPDATE {self.db}.items SET qty = qty + 1, note = 'upd' WHERE id = %s", (key,))
                    else:
                        cur.execute(f"DELETE FROM {self.db}.items WHERE id = %s", (key,))
                    self.changes[str(key)] += 1
                    time.sleep(0.05)
        except BaseException as exc:  # reported by the test
            self.error = exc


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
    })  # fmt: skip
    airflow_api.unpause(dag_id)
    run_id = airflow_api.trigger(dag_id)
    airflow_api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred"}, timeout=300)
    assert airflow_api.states(dag_id, run_id)["full_sync"] == ["success"]

    writer = Writer(mariadb_conn, db)
    writer.start()
    resumes = _wait_for_resumes(airflow_api, dag_id, run_id, CYCLES, timeout=240)
    writer.stop.set()
    writer.join(timeout=30)
    assert writer.error is None, writer.error
    assert airflow_api.run(dag_id, run_id)["state"] == "running", "a continuous run goes on"

    kafka = KafkaHook()
    per_key = _wait_for_changes(kafka, topic, sum(writer.changes.values()), timeout=120)
    rows = Counter(key for key, records in per_key.items() for r in records if r["recordType"] == "ROW")
    assert set(rows.values()) == {1} and len(rows) == ROWS, "every row of the full sync once"
    changes = Counter({key: sum(r["recordType"] != "ROW" for r in records) for key, records in per_key.items()})
    assert +changes == +writer.changes, "every committed change once"
    with conn.cursor() as cur:
        assert as_text(final_state(per_key)) == table_rows(cur, db, "items", COLUMNS)
    assert resumes >= CYCLES
    log = airflow_api.log_text(dag_id, run_id, "incremental_sync", 1)
    assert log.count("Pausing task as DEFERRED") > resumes, "each resume deferred again to the triggerer"


def _wait_for_resumes(api, dag_id: str, run_id: str, wanted: int, timeout: float) -> int:
    """Poll the incremental task's log until it has resumed from the trigger `wanted` times; the count."""
    deadline = time.monotonic() + timeout
    while True:
        ti = api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred", "running", "scheduled", "queued"})
        count = api.log_text(dag_id, run_id, "incremental_sync", ti["try_number"]).count(RESUMED)
        if count >= wanted:
            return count
        assert time.monotonic() < deadline, f"{count} resumes after {timeout:.0f} s"
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
