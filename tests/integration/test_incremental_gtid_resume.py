"""
Resuming by GTID set (`incremental.resume_by: gtid`), on MariaDB and the real broker: a checkpoint whose
binlog file no longer exists (as after the Binlog Service was rebuilt with other file names) but whose
executed GTID set is valid resumes exactly after that set; by position the same checkpoint fails at once.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.engine.serializers.sequence import SEQUENCE_FIELD
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger
from tests.integration.incremental_helpers import incremental_project


def _deferred(call) -> dict:
    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value.trigger.serialize()[1]


def _event(kwargs: dict) -> dict:
    """The trigger's event, the trigger rebuilt from its serialized form as the triggerer does."""
    return asyncio.run(asyncio.wait_for(IncrementalSyncTrigger(**kwargs).run().__anext__(), 30)).payload


@pytest.mark.parametrize("resume_by", ["gtid", "position"])
def test_a_checkpoint_whose_file_is_gone_resumes_by_its_gtid_set(airflow_conn_env, mariadb_database, resume_by):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10))")
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'before')")  # before the checkpoint: never delivered
    project = incremental_project(db, ["orders"], resume_by=resume_by)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    at = OceanBaseHook(ob_conn_id=project.source.conn_id).binlog_position()
    assert at.gtid_set and at.gtid_flavor == "mariadb"
    renamed = {"file": "rebuilt-bin.000042", "position": 4, "gtid_set": at.gtid_set, "gtid_flavor": "mariadb"}
    sink = TransactionalSink(kafka.producer(f"{project.slug}-test-checkpoint"), project.checkpoint_topic)
    sink.begin()
    sink.checkpoint(checkpoints.INCREMENTAL_KEY, renamed)
    sink.commit()
    cur.execute(f"INSERT INTO {db}.orders VALUES (2, 'after'), (3, 'after')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'after' WHERE id = 1")

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=100,
                                       max_wait_s=0.2, poll_interval_s=0.1, continuous=True)  # fmt: skip
    first = _deferred(lambda: operator.execute({}))
    assert first["position"] == renamed and first["by_gtid"] is (resume_by == "gtid")
    event = _event(first)
    if resume_by == "position":
        assert event["status"] == "error" and event["fatal"], "the file is gone: a clear error, not retried"
        assert "rebuilt-bin.000042" in event["message"] or "1236" in event["message"]
        return
    assert event["status"] == "ready" and event["changes"] == 3
    assert event["end"]["file"] != renamed["file"], "the end is where the server really is"
    again = _deferred(lambda: operator.execute_complete({}, event))
    assert again["position"] == event["end"] and again["by_gtid"] is True
    saved = checkpoint_state(project, kafka)[checkpoints.INCREMENTAL_KEY]
    assert saved.pop(SEQUENCE_FIELD) > 0, "the last sort sequence travels with the position"
    assert saved == event["end"] and saved["gtid_set"] != at.gtid_set

    messages = [json.loads(m.value()) for m in kafka.read_committed(f"{db}.orders", timeout=60)]
    assert sorted((m["recordType"], (m["postStruct"] or m["prevStruct"])["id"]) for m in messages) == [
        ("INSERT", 2), ("INSERT", 3), ("UPDATE", 1)
    ], "exactly the changes after the checkpoint's GTID set"
    # the next range, from the new checkpoint: nothing again, nothing skipped
    cur.execute(f"DELETE FROM {db}.orders WHERE id = 3")
    second = _event(again)
    assert second["status"] == "ready" and second["changes"] == 1
    _deferred(lambda: operator.execute_complete({}, second))
    assert len(kafka.read_committed(f"{db}.orders", timeout=60)) == 4
