"""A full-sync chunk's task process SIGKILLed mid-transaction under the scheduler, then Airflow's retry: exactly once."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from confluent_kafka import TopicPartition

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.scheduler.helpers import as_text, final_state, records_per_key, table_rows

SEED, DOUBLINGS = 400, 10  # 409,600 rows
ROWS, CHUNK_SIZE = SEED << DOUBLINGS, 150_000  # three chunks; chunk 0 holds ids below CHUNK_SIZE
COLUMNS = ["id", "customer", "total"]


@pytest.fixture
def orders(seekdb_database):
    """A seekdb table of ROWS rows with ids 0 .. ROWS - 1; returns (database, cursor)."""
    db, conn = seekdb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, customer VARCHAR(20) NOT NULL, total DECIMAL(12,2))")
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s, %s)", [(i, f"c{i % 97}", f"{i}.25") for i in range(SEED)])
    for step in range(DOUBLINGS):
        size = SEED << step
        cur.execute(f"INSERT INTO {db}.orders SELECT id + {size}, customer, total + {size} FROM {db}.orders")
    return db, cur


def test_killed_chunk_is_retried_by_airflow_exactly_once(airflow_api, deploy_project, airflow_conn_env, orders):
    db, cur = orders
    topic = f"{db}.orders"
    dag_id = deploy_project({
        "name": db, "sync_types": ["schema", "full"],
        "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": topic}}],
        "options": {"chunk_size": CHUNK_SIZE, "render_on_server": False},  # rows rendered in Python: slower
    })  # fmt: skip
    airflow_api.unpause(dag_id)
    run_id = airflow_api.trigger(dag_id)
    kafka = KafkaHook()
    pid = _chunk_zero_writing(airflow_api, kafka, dag_id, run_id, topic)
    os.kill(pid, signal.SIGKILL)  # the task process itself, its transaction open

    run = airflow_api.wait_for_run(dag_id, run_id, timeout=600)
    assert run["state"] == "success", airflow_api.states(dag_id, run_id)
    tries = {ti["map_index"]: ti["try_number"] for ti in airflow_api.task_instances(dag_id, run_id)
             if ti["task_id"] == "full_sync"}  # fmt: skip
    assert tries == {0: 2, 1: 1, 2: 1}, "the killed chunk failed and Airflow's retry redid it"
    assert _uncommitted_count(kafka, topic) > ROWS, "the killed try had written messages, aborted since"
    per_key = records_per_key(kafka, topic, timeout=180)
    assert {key: len(records) for key, records in per_key.items() if len(records) != 1} == {}, "each row once"
    assert len(per_key) == ROWS
    assert as_text(final_state(per_key)) == table_rows(cur, db, "orders", COLUMNS)


def _chunk_zero_writing(api, kafka: KafkaHook, dag_id: str, run_id: str, topic: str) -> int:
    """
    Wait until chunk 0's open transaction has written a message (a read_uncommitted consumer sees one with a
    key of its range); return its task process id, found by the title Airflow gives it.
    """
    ti_id, deadline = None, time.monotonic() + 300
    while ti_id is None:  # its id is there once it is scheduled; the topic (schema_sync) before that
        tis = {ti["map_index"]: ti for ti in api.task_instances(dag_id, run_id) if ti["task_id"] == "full_sync"}
        ti_id = tis[0]["id"] if 0 in tis else None
        assert time.monotonic() < deadline, api.states(dag_id, run_id)
        time.sleep(0.2)
    consumer = kafka.read_committed_consumer(**{"isolation.level": "read_uncommitted"})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        while time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.1):
                if message.error() is None and int(message.key()) < CHUNK_SIZE:
                    return _worker_pid(ti_id)
    finally:
        consumer.close()
    raise AssertionError(f"chunk 0 never wrote: {api.states(dag_id, run_id)}")


def _worker_pid(ti_id: str) -> int:
    """The task process of a task instance: Airflow titles it `airflow worker -- <task instance id>`."""
    for process in psutil.process_iter(["cmdline"]):
        if f"airflow worker -- {ti_id}" in " ".join(process.info["cmdline"] or ()):
            return process.pid
    raise AssertionError(f"no task process for {ti_id}")


def _uncommitted_count(kafka: KafkaHook, topic: str) -> int:
    """Messages in the topic's log as a read_uncommitted consumer counts them (aborted ones included)."""
    consumer = kafka.read_committed_consumer(**{"isolation.level": "read_uncommitted"})
    try:
        count, idle = 0, time.monotonic() + 5
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        while time.monotonic() < idle:
            messages = [m for m in consumer.consume(10_000, 0.5) if m.error() is None]
            if messages:
                count, idle = count + len(messages), time.monotonic() + 5
        return count
    finally:
        consumer.close()
