"""
A continuous incremental task streaming on its worker (`idle_before_defer_s`): every change once, read from ONE
blocking dump by ONE transactional producer for as long as changes come, on MariaDB and the obbinlog double.
The dumps and producers are counted by wrapping the real classes (they still connect to the real services).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_obkafka.engine.binlog import reader as reader_module
from airflow_provider_obkafka.engine.binlog.wire import DumpStream
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._project import checkpoint_state, ensure_checkpoint_topic
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project, next_second

TRANSACTIONS, ROWS_EACH = 40, 5


def _orders_project(db: str, conn, source):
    """A table `orders`, its incremental project with topics and checkpoint topic made; (project, Kafka)."""
    conn.cursor().execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    project = incremental_project(db, ["orders"], conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    ensure_checkpoint_topic(project, kafka)
    return project, kafka


@pytest.mark.parametrize("source", ["mariadb", "obbinlog"], indirect=True)
def test_a_streaming_worker_sends_each_change_once_from_one_dump_through_one_producer(
    airflow_conn_env, source, mariadb_database, mariadb_conn, monkeypatch
):
    db, conn = mariadb_database
    project, kafka = _orders_project(db, conn, source)
    start = source.position().model_dump(mode="json")

    dumps: list[BinlogPosition] = []
    producers: list[str] = []

    class CountedDump(DumpStream):
        def __init__(self, *args, **kwargs):
            dumps.append(kwargs["start"])
            super().__init__(*args, **kwargs)

    real_producer = KafkaHook.producer

    def counted_producer(self, transactional_id, **config):
        producers.append(transactional_id)
        return real_producer(self, transactional_id, **config)

    monkeypatch.setattr(reader_module, "DumpStream", CountedDump)
    monkeypatch.setattr(KafkaHook, "producer", counted_producer)

    def write() -> None:  # 40 transactions, 0.1 s apart: a steady flow the worker keeps up with
        with mariadb_conn() as own, own.cursor() as writer:
            for n in range(TRANSACTIONS):
                rows = [(n * ROWS_EACH + i,) for i in range(ROWS_EACH)]
                writer.executemany(f"INSERT INTO {db}.orders VALUES (%s, 'NEW')", rows)
                threading.Event().wait(0.1)

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=1000, max_wait_s=0.5,
                                       continuous=True, idle_before_defer_s=3.0)  # fmt: skip
    writer = threading.Thread(target=write)
    writer.start()
    with pytest.raises(TaskDeferred) as deferred:  # streamed until idle for 3 s, then deferred to the trigger
        operator.execute_complete({}, {"status": "ready", "start": start, "end": start})
    writer.join()

    ids = [json.loads(m.value())["postStruct"]["id"] for m in kafka.read_committed(f"{db}.orders", timeout=60)]
    assert sorted(ids) == list(range(TRANSACTIONS * ROWS_EACH)), "every change exactly once"
    assert len(producers) == 2, f"one producer for the event's (empty) range, one for the stream: {producers}"
    assert len(dumps) == 1, f"one dump for the whole stream, not one per range: {dumps}"
    resume = BinlogPosition(**deferred.value.trigger.serialize()[1]["position"])
    committed = BinlogPosition(**checkpoint_state(project, kafka)[checkpoints.INCREMENTAL_KEY])
    assert (resume.file, resume.position) == (committed.file, committed.position), "it waits from the checkpoint"
    assert resume.sort_key() > BinlogPosition(**start).sort_key()


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_a_continuous_task_streams_a_waiting_backlog_before_it_first_defers(
    airflow_conn_env, source, mariadb_database
):
    """
    A continuous task does not defer while changes wait: under the scheduler a trigger that fires at once races
    the scheduler's view of the deferral (`IncrementalSyncTrigger(not_before=...)`). It streams them first.
    """
    db, conn = mariadb_database
    project, kafka = _orders_project(db, conn, source)
    since = next_second()
    conn.cursor().executemany(f"INSERT INTO {db}.orders VALUES (%s, 'NEW')", [(i,) for i in range(50)])

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, start_timestamp=since.isoformat(),
                                       continuous=True, idle_before_defer_s=2.0, defer_hold_s=7.0)  # fmt: skip
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"data_interval_end": None})
    deferred_at = time.time()

    ids = [json.loads(m.value())["postStruct"]["id"] for m in kafka.read_committed(f"{db}.orders", timeout=60)]
    assert sorted(ids) == list(range(50)), "the backlog was produced before the first deferral"
    kwargs = deferred.value.trigger.serialize()[1]
    assert deferred_at < kwargs["not_before"] <= deferred_at + 7.0, "the trigger fires 7 s after the deferral"
