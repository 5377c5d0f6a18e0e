"""
The full-to-incremental handoff's cutoff (`engine/binlog/handoff.py`) through the operator, trigger and checkpoint,
on MariaDB and the real broker. MariaDB has no SCN: the full sync's record is written here as a full sync on
OceanBase writes it. Its commit times are whole seconds, never exact: nothing may be skipped for them.
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
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger
from tests.integration.incremental_helpers import incremental_project


def _deferred(call) -> dict:
    """The trigger kwargs of the deferral `call` makes."""
    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value.trigger.serialize()[1]


def test_the_cutoff_travels_with_trigger_and_checkpoint_and_inexact_times_are_never_skipped(
    airflow_conn_env, mariadb_database
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10))")
    project = incremental_project(db, ["orders"])
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    at = OceanBaseHook(ob_conn_id=project.source.conn_id).binlog_position()
    scn = snapshot_scn(time.time_ns() + 3600 * 10**9)  # an hour ahead: every change below commits before it
    sink = TransactionalSink(kafka.producer(f"{project.slug}-test-full"), project.checkpoint_topic)
    sink.begin()
    sink.checkpoint(checkpoints.LAST_FULL_SYNC_KEY, {"scn": scn, "binlog": at.model_dump(mode="json")})
    sink.commit()
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'a'), (2, 'a')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'b' WHERE id = 1")
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
    assert sorted((m["recordType"], (m["postStruct"] or m["prevStruct"])["id"]) for m in messages) == [
        ("INSERT", 1), ("INSERT", 2), ("UPDATE", 1)
    ], "MariaDB's commit times are whole seconds: nothing is skipped, whatever the cutoff"
