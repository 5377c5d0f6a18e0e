"""An incremental worker SIGKILLed with a Kafka transaction open, then Airflow's retry: exactly once (real scheduler)."""

from __future__ import annotations

import os
import signal
import time

from confluent_kafka import TopicPartition

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.scheduler.helpers import as_text, final_state, records_per_key, table_rows
from tests.scheduler.test_chunk_kill_scheduler import _uncommitted_count, _worker_pid

SEED, DOUBLINGS = 500, 8  # 128,000 inserted rows, most of them in a few large source transactions
ROWS = SEED << DOUBLINGS
COLUMNS = ["id", "qty", "note"]


def test_killed_incremental_worker_is_retried_by_airflow_exactly_once(
    airflow_api, deploy_project, airflow_conn_env, mariadb_database
):
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.items (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(20))")
    topic = f"{db}.items"
    dag_id = deploy_project({
        "name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": "mariadb_binlog"},
        "objects": [{"database": db, "tables": ["items"], "topic": {"mode": "new", "name": topic}}],
        "options": {"batch_size": 20_000, "idle_before_defer_s": 5},
    })  # fmt: skip
    airflow_api.unpause(dag_id)
    run_id = airflow_api.new_run(dag_id, seen=set())  # @continuous: unpausing starts the run
    assert run_id is not None, "no run after unpausing the continuous project"
    ti = airflow_api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred"}, timeout=300)

    with conn.cursor() as cur:  # committed while the task waits in the triggerer: one large range to produce
        cur.executemany(f"INSERT INTO {db}.items VALUES (%s, 0, 'seed')", [(i,) for i in range(SEED)])
        for step in range(DOUBLINGS):
            cur.execute(f"INSERT INTO {db}.items SELECT id + {SEED << step}, qty, 'bulk' FROM {db}.items")
        cur.execute(f"UPDATE {db}.items SET qty = qty + 1 WHERE id % 10 = 0")
        cur.execute(f"DELETE FROM {db}.items WHERE id % 100 = 1")
    kafka = KafkaHook()
    _wait_for_open_transaction(kafka, topic)
    os.kill(_worker_pid(ti["id"]), signal.SIGKILL)  # the task process itself, a Kafka transaction open

    per_key = _wait_for_final_state(kafka, topic, conn, db, timeout=420)
    ti = airflow_api.wait_for_task(dag_id, run_id, "incremental_sync", {"deferred", "running"}, timeout=300)
    assert ti["try_number"] == 2, "the killed try failed and Airflow's retry resumed the synchronization"
    assert _uncommitted_count(kafka, topic) > sum(map(len, per_key.values())), "the killed try's messages, aborted"
    inserts = {key: sum(r["recordType"] == "INSERT" for r in records) for key, records in per_key.items()}
    assert set(inserts.values()) == {1} and len(inserts) == ROWS, "every INSERT once"
    updates = sum(r["recordType"] == "UPDATE" for records in per_key.values() for r in records)
    assert updates == ROWS // 10, "every UPDATE once"


def _wait_for_open_transaction(kafka: KafkaHook, topic: str, timeout: float = 300.0) -> None:
    """Wait until a read_uncommitted consumer sees a change that a read_committed one does not see yet."""
    consumer = kafka.read_committed_consumer(**{"isolation.level": "read_uncommitted"})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.error() is None for m in consumer.consume(1000, 0.1)):
                return
        raise AssertionError(f"no change written to {topic} after {timeout:.0f} s")
    finally:
        consumer.close()


def _wait_for_final_state(kafka: KafkaHook, topic: str, conn, db: str, timeout: float) -> dict:
    """Read the topic until its per-key final state equals the table; the records per key."""
    deadline = time.monotonic() + timeout
    with conn.cursor() as cur:
        expected = table_rows(cur, db, "items", COLUMNS)
    while True:
        per_key = records_per_key(kafka, topic)
        if as_text(final_state(per_key)) == expected or time.monotonic() > deadline:
            assert as_text(final_state(per_key)) == expected, "the topic's final state per key is the table's"
            return per_key
        time.sleep(5.0)
