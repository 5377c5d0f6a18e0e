"""
The full-to-incremental handoff's cutoff (`engine/binlog/handoff.py`) through the operator, trigger and checkpoint,
on each source and the real broker. Neither has an SCN: the full sync's record is written here as a full sync on
OceanBase writes it. MariaDB's commit times are whole seconds, never exact: nothing may be skipped for them. The
obbinlog double's GTID events carry an exact µs commit time, as obbinlog's do (`devservices/obbinlog/store.py`):
exactly the transactions committed before the snapshot are skipped.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.binlog.handoff import handoff_cutoff_us, snapshot_scn
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger
from tests.integration.incremental_helpers import incremental_project, next_second


def _deferred(call) -> dict:
    """The trigger kwargs of the deferral `call` makes."""
    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value.trigger.serialize()[1]


def _full_sync_record(project, kafka: KafkaHook, scn: int, at) -> None:
    """The record a full sync on OceanBase leaves: its snapshot and the binlog position taken before it."""
    sink = TransactionalSink(kafka.producer(f"{project.slug}-test-full"), project.checkpoint_topic)
    sink.begin()
    sink.checkpoint(checkpoints.LAST_FULL_SYNC_KEY, {"scn": scn, "binlog": at.model_dump(mode="json")})
    sink.commit()


def test_the_cutoff_travels_with_trigger_and_checkpoint_and_inexact_times_are_never_skipped(
    airflow_conn_env, source, mariadb_database
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10))")
    project = incremental_project(db, ["orders"], conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    at = source.position()
    scn = snapshot_scn(time.time_ns() + 3600 * 10**9)  # an hour ahead: every change below commits before it
    _full_sync_record(project, kafka, scn, at)
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'a'), (2, 'a')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'b' WHERE id = 1")
    source.caught_up()
    cutoff = handoff_cutoff_us(scn)

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=100,
                                       max_wait_s=0.2, poll_interval_s=0.1, continuous=True)  # fmt: skip
    first = _deferred(lambda: operator.execute({}))
    assert first["position"] == at.model_dump(mode="json")
    assert first["skip_committed_before_us"] == cutoff

    # the trigger as the triggerer rebuilds it from its serialized form
    event = asyncio.run(asyncio.wait_for(IncrementalSyncTrigger(**first).run().__anext__(), 30)).payload
    assert event["status"] == "ready" and event["skip_committed_before_us"] == cutoff
    again = _deferred(lambda: operator.execute_complete({}, event))
    assert again["skip_committed_before_us"] == cutoff, "the next wait carries it on"
    saved = checkpoint_state(project, kafka)[checkpoints.INCREMENTAL_KEY]
    assert saved["skip_committed_before_us"] == cutoff, "so does the checkpoint"
    assert (saved["file"], saved["position"]) == (event["end"]["file"], event["end"]["position"])

    messages = [json.loads(m.value()) for m in kafka.read_committed(f"{db}.orders", timeout=60)]
    delivered = sorted((m["recordType"], (m["postStruct"] or m["prevStruct"])["id"]) for m in messages)
    if source.is_obbinlog:
        assert delivered == [], "exact commit times before the snapshot: all in it, none produced again"
        return
    assert delivered == [("INSERT", 1), ("INSERT", 2), ("UPDATE", 1)], (
        "MariaDB's commit times are whole seconds: nothing is skipped, whatever the cutoff"
    )


def test_exact_commit_times_skip_exactly_what_the_snapshot_holds(airflow_conn_env, source, mariadb_database):
    """
    On the double: transactions committed before the snapshot's µs are skipped, the ones after it are produced,
    wherever the start position lies before them (the handoff is gap-free and without duplicates).
    """
    if not source.is_obbinlog:
        pytest.skip("MariaDB's GTID events carry no commit time and its headers whole seconds: nothing is "
                    "skipped there (the test above); the exact µs commit time is obbinlog's")  # fmt: skip
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(20))")
    project = incremental_project(db, ["orders"], conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    at = source.position()  # taken before the snapshot, as a full sync takes it
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'in snapshot'), (2, 'in snapshot')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'in snapshot 2' WHERE id = 2")
    snapshot = next_second()  # the double's commit µs: the MariaDB second, or 1 µs after the previous commit
    cur.execute(f"INSERT INTO {db}.orders VALUES (3, 'after')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'after' WHERE id = 1")
    cur.execute(f"DELETE FROM {db}.orders WHERE id = 2")
    source.caught_up()
    scn = snapshot_scn(int(snapshot.timestamp()) * 10**9)
    _full_sync_record(project, kafka, scn, at)

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=100,
                                       max_wait_s=0.2, poll_interval_s=0.1, continuous=True)  # fmt: skip
    first = _deferred(lambda: operator.execute({}))
    assert first["skip_committed_before_us"] == int(snapshot.timestamp()) * 10**6
    event = asyncio.run(asyncio.wait_for(IncrementalSyncTrigger(**first).run().__anext__(), 30)).payload
    assert event["status"] == "ready"
    _deferred(lambda: operator.execute_complete({}, event))
    messages = [json.loads(m.value()) for m in kafka.read_committed(f"{db}.orders", timeout=60)]
    assert sorted((m["recordType"], (m["postStruct"] or m["prevStruct"])["id"]) for m in messages) == [
        ("DELETE", 2), ("INSERT", 3), ("UPDATE", 1)
    ], "the changes after the snapshot, each once; none of those before it"
    update = next(m for m in messages if m["recordType"] == "UPDATE")
    assert update["prevStruct"]["phase"] == "in snapshot", "continues from the snapshot's state of the row"
