"""
Resuming by GTID set (`incremental.resume_by: gtid`), on each source and the real broker: a checkpoint whose
binlog file no longer exists (as after the Binlog Service was rebuilt with other file names) but whose
executed GTID set is valid resumes exactly after that set; by position the same checkpoint fails at once.

On the obbinlog double the resume goes through `COM_BINLOG_DUMP_GTID`, whose start file obbinlog finds with an
off-by-one (`seek_first_binlog_file`, `devservices/obbinlog/dumper.py`): a set ending one short of a file's
PREVIOUS_GTIDS selects that file, past the transaction the set lacks.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.engine.serializers.sequence import SEQUENCE_FIELD
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger
from tests.integration import obbinlog_helpers as oh
from tests.integration.incremental_helpers import incremental_project


def _deferred(call) -> dict:
    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value.trigger.serialize()[1]


def _event(kwargs: dict) -> dict:
    """The trigger's event, the trigger rebuilt from its serialized form as the triggerer does."""
    return asyncio.run(asyncio.wait_for(IncrementalSyncTrigger(**kwargs).run().__anext__(), 30)).payload


def _checkpoint(project, kafka: KafkaHook, position: dict) -> None:
    """Write the project's incremental checkpoint as the operator writes it."""
    sink = TransactionalSink(kafka.producer(f"{project.slug}-test-checkpoint"), project.checkpoint_topic)
    sink.begin()
    sink.checkpoint(checkpoints.INCREMENTAL_KEY, position)
    sink.commit()


@pytest.mark.parametrize("resume_by", ["gtid", "position"])
def test_a_checkpoint_whose_file_is_gone_resumes_by_its_gtid_set(
    airflow_conn_env, source, mariadb_database, resume_by
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, phase VARCHAR(10))")
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'before')")  # before the checkpoint: never delivered
    project = incremental_project(db, ["orders"], conn_id=source.conn_id, resume_by=resume_by)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    at = source.position()
    assert at.gtid_set and at.gtid_flavor == source.gtid_flavor
    renamed = {"file": "rebuilt-bin.000042", "position": 4, "gtid_set": at.gtid_set,
               "gtid_flavor": source.gtid_flavor}  # fmt: skip
    _checkpoint(project, kafka, renamed)
    cur.execute(f"INSERT INTO {db}.orders VALUES (2, 'after'), (3, 'after')")
    cur.execute(f"UPDATE {db}.orders SET phase = 'after' WHERE id = 1")
    source.caught_up()

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
    source.caught_up()
    second = _event(again)
    assert second["status"] == "ready" and second["changes"] == 1
    _deferred(lambda: operator.execute_complete({}, second))
    assert len(kafka.read_committed(f"{db}.orders", timeout=60)) == 4


def _files(port: int) -> list[str]:
    conn = oh.connect(port)
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        names = [row[0] for row in cur.fetchall()]
    conn.close()
    return names


def _rotated_by_single_inserts(cur, db: str, port: int, first: int = 1) -> tuple[int, int]:
    """
    One-row transactions into `db.t` (ids first, first + 1, ...) until the double rotates: the last id written,
    and the PREVIOUS_GTIDS end of the file the rotation opened (the number of the last transaction before it).
    """
    files = len(_files(port))
    for i in range(first, first + 1000):
        cur.execute(f"INSERT INTO {db}.t VALUES ({i}, REPEAT('x', 3000))")
        if i % 5 == 0 and len(names := _files(port)) > files:  # 15 KB a check: one rotation at most
            return i, oh.previous_gtids_end(port, names[-1])[names[-1]]
    raise AssertionError("the double did not rotate")


def _gnos(source, start, db: str) -> dict[int, int]:
    """Each insert's id and the GTID number (`uuid:N`) the double gave its transaction, read from `start`."""
    describe = source.hook().describe_table
    with BinlogReader(source.settings(), 6363, start, {(db, "t")}, describe=describe) as reader:
        return {txn.changes[0].after[0]: int(txn.transaction_id.rpartition(":")[2])
                for txn in reader.read_transactions() if txn.changes}  # fmt: skip


def test_a_gtid_set_one_short_of_a_files_previous_gtids_loses_nothing(
    airflow_conn_env, obbinlog_service, source, mariadb_database
):
    """
    obbinlog starts a GTID dump in the newest file whose PREVIOUS_GTIDS `uuid:1-P` is within the client's set,
    with an off-by-one (`seek_first_binlog_file` compares the file's closed interval with the client's
    half-open one): the set `uuid:1-(P-1)` selects that file, past transaction P, the last of the file
    before. A checkpoint whose set ends there must still get transaction P, once.
    """
    if not source.is_obbinlog:
        pytest.skip("MariaDB resumes from @slave_connect_state, not through PREVIOUS_GTIDS: no such off-by-one")
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, pad VARCHAR(3000))")
    project = incremental_project(db, ["t"], conn_id=source.conn_id, resume_by="gtid")
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    before = source.position()
    uuid = before.gtid_set.rpartition(":")[0]
    written = 0
    for _ in range(3):  # other tests may write to the shared MariaDB meanwhile: their transaction may rotate
        written, last = _rotated_by_single_inserts(cur, db, obbinlog_service.port, written + 1)
        source.caught_up()
        gno_of = _gnos(source, before, db)
        if last <= max(gno_of.values()):  # the rotation came after one of the inserts: the case to test
            break
    assert sorted(gno_of) == list(range(1, written + 1))
    assert min(gno_of.values()) < last <= max(gno_of.values()), "the rotation came after one of the inserts"
    one_short = {"file": "rebuilt-bin.000042", "position": 4, "gtid_set": f"{uuid}:1-{last - 1}",
                 "gtid_flavor": "mysql"}  # fmt: skip
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    _checkpoint(project, kafka, one_short)

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=100_000,
                                       max_wait_s=0.2, poll_interval_s=0.1, continuous=True)  # fmt: skip
    event = _event(_deferred(lambda: operator.execute({})))
    assert event["status"] == "ready"
    _deferred(lambda: operator.execute_complete({}, event))
    ids = sorted(json.loads(m.value())["postStruct"]["id"] for m in kafka.read_committed(f"{db}.t", timeout=60))
    expected = sorted(i for i, gno in gno_of.items() if gno >= last)
    assert ids == expected, f"transactions {last} on (inserts {expected[0]}..{written}), each once"
    assert event["changes"] == len(expected)
