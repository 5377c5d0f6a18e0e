"""
Keys and ordering in incremental synchronization, MariaDB's binlog into Kafka through the worker's own path
(`IncrementalSyncOperator.execute_complete` on explicit ranges, each a fresh operator as after a restart):

* a primary-key UPDATE, with `key_change: delete_then_insert` and `tombstones_on_delete`, leaves each key's
  last message describing the source's row (a compacted topic or an upsert sink equals the source), in every
  serialization method; with the options off the OMS shape is kept;
* `storeDataSequence` (Canal `id`, DataWorks and SharePlex `scn`) strictly increases in commit order, across
  transactions committed in the same second and across a resume from the checkpoint.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.routing.router import Router
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project, next_second
from tests.unit.engine.serializer_cases import SEQUENCE_OF

METHODS = ["Default", "Canal", "DataWorks", "SharePlex", "DefaultExtendColumnType", "Debezium"]
KEY_WORKLOAD = [  # (statement, messages it gives with both options on)
    ("INSERT INTO {db}.t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')", 5),
    ("UPDATE {db}.t SET id = 40 WHERE id = 4", 3),  # DELETE 4, tombstone 4, INSERT 40
    ("UPDATE {db}.t SET v = 'a2' WHERE id = 1", 1),  # the key stays: one UPDATE
    ("DELETE FROM {db}.t WHERE id = 2", 2),  # DELETE 2, tombstone 2
    ("UPDATE {db}.t SET id = 6, v = 'e2' WHERE id = 5", 3),
    ("INSERT INTO {db}.t VALUES (4, 'd2')", 1),  # the old key comes back
    ("UPDATE {db}.t SET id = 7 WHERE id = 6", 3),
]


def _produce(project: Any, start: Any, end: Any, batch_size: int = 10_000) -> dict[str, Any]:
    """One range through a fresh operator (its own router and sink, state only from the checkpoint)."""
    event = {"status": "ready", "start": start, "end": end, "changes": 0, "reached_end": True}
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=batch_size)
    return operator.execute_complete({}, event)


def _position() -> dict[str, Any]:
    return OceanBaseHook(ob_conn_id="mariadb_binlog").binlog_position().model_dump(mode="json")


def _row_of(method: str, value: bytes | None) -> dict[str, Any] | None:
    """The row a message leaves for its key: None for a DELETE or a tombstone."""
    if value is None:
        return None
    message = json.loads(value)
    if method in ("Default", "DefaultExtendColumnType"):
        return None if message["recordType"] == "DELETE" else message["postStruct"]
    if method == "Canal":
        return None if message["type"] == "DELETE" else message["data"][0]
    if method == "DataWorks":
        payload = message["payload"]
        return None if payload["op"] == "DELETE" else payload["after"]["data"]
    if method == "SharePlex":
        op = message["meta"]["op"]
        return None if op == "del" else {**message.get("key", {}), **message["data"]}
    payload = message["payload"]  # Debezium
    return None if payload["op"] == "d" else payload["after"]


def _kind(method: str, value: bytes | None) -> str:
    """INSERT, UPDATE, DELETE or TOMBSTONE, whatever the method calls them."""
    if value is None:
        return "TOMBSTONE"
    message = json.loads(value)
    found = {
        "Default": lambda m: m["recordType"], "DefaultExtendColumnType": lambda m: m["recordType"],
        "Canal": lambda m: m["type"], "DataWorks": lambda m: m["payload"]["op"],
        "SharePlex": lambda m: m["meta"]["op"], "Debezium": lambda m: m["payload"]["op"],
    }[method](message)  # fmt: skip
    names = {"ins": "INSERT", "upd": "UPDATE", "del": "DELETE", "c": "INSERT", "u": "UPDATE", "d": "DELETE"}
    return names.get(found, found)


def _key_id(method: str, key: bytes) -> int:
    return json.loads(key)["payload"]["id"] if method == "Debezium" else int(key)


def _key_workload(db: str, conn: Any, options: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Run KEY_WORKLOAD through incremental sync; (the topic's committed messages, the source's rows)."""
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10))")
    project = incremental_project(db, options=options)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = _position()
    for statement, _ in KEY_WORKLOAD:
        cur.execute(statement.format(db=db))  # autocommit: one transaction each
    _produce(project, start, _position(), batch_size=2)
    cur.execute(f"SELECT id, v FROM {db}.t ORDER BY id")
    messages = KafkaHook().read_committed(f"{db}.t", timeout=60)
    return sorted(messages, key=lambda m: (m.partition(), m.offset())), list(cur.fetchall())


@pytest.mark.parametrize("method", METHODS)
def test_primary_key_update_compacts_to_the_source(method, airflow_conn_env, mariadb_database):
    """
    With `key_change: delete_then_insert` and `tombstones_on_delete`, the last message of every key is what
    the source holds (compaction keeps exactly the source's rows), and every change arrives once.
    """
    db, conn = mariadb_database
    options = {"serialization": method, "key_change": "delete_then_insert", "tombstones_on_delete": True}
    messages, source = _key_workload(db, conn, options)
    assert len(messages) == sum(count for _, count in KEY_WORKLOAD), "every change once, split as documented"
    last: dict[bytes, Any] = {}
    for message in messages:
        last[message.key()] = _row_of(method, message.value())
    compacted = {_key_id(method, key): (row["id"], row["v"]) for key, row in last.items() if row is not None}
    assert compacted == {row[0]: tuple(row) for row in source}, "the compacted topic equals the source"
    by_key: dict[int, list[str]] = {}
    for message in messages:
        by_key.setdefault(_key_id(method, message.key()), []).append(_kind(method, message.value()))
    assert by_key[4] == ["INSERT", "DELETE", "TOMBSTONE", "INSERT"]
    assert by_key[40] == ["INSERT"]
    assert by_key[1] == ["INSERT", "UPDATE"]
    assert by_key[2] == ["INSERT", "DELETE", "TOMBSTONE"]
    assert by_key[6] == ["INSERT", "DELETE", "TOMBSTONE"]
    assert by_key[7] == ["INSERT"]


def test_options_off_keep_the_oms_shape(airflow_conn_env, mariadb_database):
    """
    Default options: a key-changing UPDATE stays one UPDATE under the new key, no tombstones (as OMS), so the
    old key's last message is its INSERT and a compacted topic keeps rows the source no longer has.
    """
    db, conn = mariadb_database
    messages, source = _key_workload(db, conn, {})
    assert len(messages) == len(KEY_WORKLOAD) - 1 + 5, "one message per row change"
    assert all(m.value() is not None for m in messages)
    kinds: dict[int, list[str]] = {}
    last: dict[int, Any] = {}
    for message in messages:
        kinds.setdefault(int(message.key()), []).append(_kind("Default", message.value()))
        last[int(message.key())] = _row_of("Default", message.value())
    assert kinds[5] == ["INSERT"], "key 5 (moved to 6, then 7) ends on its INSERT"
    assert kinds[6] == ["UPDATE"] and kinds[7] == ["UPDATE"] and kinds[40] == ["UPDATE"]
    compacted = {key for key, row in last.items() if row is not None}
    assert compacted - {row[0] for row in source} == {5, 6}, "compaction keeps two rows the source lost"


ROW_ID_OF = {
    "Default": lambda m: m["postStruct"]["id"],
    "DefaultExtendColumnType": lambda m: m["postStruct"]["id"],
    "Canal": lambda m: m["data"][0]["id"],
    "DataWorks": lambda m: m["payload"]["after"]["data"]["id"],
    "SharePlex": lambda m: m["data"]["id"],
}


@pytest.mark.parametrize("method", list(SEQUENCE_OF))
def test_sequence_strictly_increases_across_transactions_and_a_resume(
    method, airflow_conn_env, mariadb_database, monkeypatch
):
    """
    Six transactions committed in one second, the range cut in two between them and produced by fresh
    operators (each resumes from the checkpoint); the second range fails inside its second transaction once
    (aborted) and is run again: the sort sequence strictly increases in commit order, with no gap.
    """
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    project = incremental_project(db, options={"serialization": method})
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = _position()
    second = next_second()
    cur.execute(f"INSERT INTO {db}.t VALUES (1)")
    cur.execute(f"INSERT INTO {db}.t VALUES (2), (3)")
    cur.execute(f"INSERT INTO {db}.t VALUES (4)")
    middle = _position()
    cur.execute(f"INSERT INTO {db}.t VALUES (5)")
    cur.execute(f"INSERT INTO {db}.t VALUES (6), (7)")
    cur.execute(f"INSERT INTO {db}.t VALUES (8)")
    assert int(time.time()) == int(second.timestamp()), "setup too slow: the commits spread over two seconds"
    end = _position()
    assert _produce(project, start, middle, batch_size=1)["changes"] == 4
    send, sent = Router.send, []

    def failing_send(self, change, sink):
        if len(sent) == 2:
            raise SchemaError("injected failure inside the second transaction of the range")
        sent.append(change)
        return send(self, change, sink)

    monkeypatch.setattr(Router, "send", failing_send)
    with pytest.raises(AirflowFailException, match="injected failure"):
        _produce(project, middle, end, batch_size=1)  # T4 committed, T5 aborted half-way
    assert len(KafkaHook().read_committed(f"{db}.t", timeout=30)) == 5
    monkeypatch.setattr(Router, "send", send)
    assert _produce(project, middle, end, batch_size=1)["changes"] == 3  # a new operator: resumes after T4
    messages = [json.loads(m.value()) for m in KafkaHook().read_committed(f"{db}.t", timeout=60)]
    by_id = {ROW_ID_OF[method](m): SEQUENCE_OF[method](m) for m in messages}
    assert len(messages) == 8 and sorted(by_id) == list(range(1, 9)), "every change once"
    in_commit_order = [by_id[i] for i in range(1, 9)]
    commit_second = int(second.timestamp())
    assert in_commit_order == [commit_second * 100_000 + n for n in range(1, 9)], (
        "strictly increasing: {commit second}{a 5-digit count that goes on across transactions and resumes}"
    )
