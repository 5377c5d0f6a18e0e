"""
Keys and ordering of incremental messages, through the router into a sink over a recording producer:

* the sort sequence (`storeDataSequence`, Canal `id`, DataWorks and SharePlex `scn`) strictly increases over
  synthetic transactions committed in the same second, from a resumed value on, and a change rendered twice
  keeps its number;
* `key_change: delete_then_insert` splits an UPDATE that changes the Kafka key into the method's DELETE under
  the old key and INSERT under the new one; `tombstones_on_delete` adds a null value after each keyed DELETE;
  with both off, one message per change, as before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.engine.routing.router import Router
from airflow_provider_obkafka.engine.serializers import record_function
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.serializers.key_change import messages_function
from airflow_provider_obkafka.engine.serializers.sequence import SEQUENCE_FIELD, StoreSequence
from airflow_provider_obkafka.models.loader import parse_project
from tests.unit.engine.serializer_cases import (
    METHODS,
    ROW,
    SEQUENCE_OF,
    all_types_context,
    change,
    key_table,
    with_unusual_types,
)
from tests.unit.engine.test_topic_sender import FakeProducer

INSERT, UPDATE, DELETE = RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE
SECOND = 1_796_300_000
KIND_OF = {
    "Default": lambda m: m["recordType"], "DefaultExtendColumnType": lambda m: m["recordType"],
    "Canal": lambda m: m["type"], "DataWorks": lambda m: m["payload"]["op"],
    "SharePlex": lambda m: {"ins": "INSERT", "upd": "UPDATE", "del": "DELETE"}[m["meta"]["op"]],
    "Debezium": lambda m: {"c": "INSERT", "u": "UPDATE", "d": "DELETE"}[m["payload"]["op"]],
}  # fmt: skip


def _router(method: str, primary_key: tuple[str, ...] = ("a",), **options: Any) -> tuple[Router, Any]:
    """A router of d.t(a int, b varchar, c datetime) in `method`, with `options` (and `shard_columns`)."""
    shard = options.pop("shard_columns", None)
    entry = {"database": "d", "tables": ["t"], "topic": {"mode": "new", "name": "d.t"}}
    project = parse_project(
        {"name": "p", "sync_types": ["schema", "incremental"],
         "options": {"serialization": method, **options},
         "objects": [{**entry, **({"shard_columns": shard} if shard else {})}]}
    )  # fmt: skip
    schema = key_table(primary_key).schema
    return Router(project, lambda _db, _table: schema, DbType.MYSQL), schema


def _change(kind: RecordType, before: Any, after: Any, commit_s: int, txn: str, sequence: int) -> RowChange:
    return RowChange("d", "t", kind, ("a", "b", "c"), before, after, ("a",), commit_s * 1_000_000,
                     "mysql-bin.000001:4", txn, sequence)  # fmt: skip


def _sent(router: Router, changes: list[RowChange]) -> list[tuple[bytes | None, bytes | None]]:
    """What the router produces for `changes`: (key, value) in order."""
    producer = FakeProducer()
    sink = TransactionalSink(producer, "checkpoints")
    for one in changes:
        router.send(one, sink)
    return [(key, value) for _topic, value, key, _partition, _callback in producer.calls]


def _same_second_transactions(second: int = SECOND) -> list[RowChange]:
    """Three transactions committed in one second: 1 row, 2 rows, 1 row (each numbered from 1)."""
    rows = [("t1", 1, (1, "a", None)), ("t2", 1, (2, "b", None)), ("t2", 2, (3, "c", None)),
            ("t3", 1, (4, "d", None))]  # fmt: skip
    return [_change(INSERT, None, row, second, txn, seq) for txn, seq, row in rows]


@pytest.mark.parametrize("method", list(SEQUENCE_OF))
def test_sequence_strictly_increases_over_same_second_transactions(method: str) -> None:
    router, _ = _router(method)
    sent = _sent(router, _same_second_transactions())
    values = [SEQUENCE_OF[method](json.loads(value)) for _, value in sent]
    assert values == [SECOND * 100_000 + n for n in (1, 2, 3, 4)], "three transactions went on counting"
    assert router.sequence.last == values[-1]


@pytest.mark.parametrize("method", list(SEQUENCE_OF))
def test_sequence_resumes_above_the_checkpoint(method: str) -> None:
    router, _ = _router(method)
    router.sequence.resume({"file": "mysql-bin.000001", "position": 4, SEQUENCE_FIELD: SECOND * 100_000 + 7})
    sent = _sent(router, _same_second_transactions())
    values = [SEQUENCE_OF[method](json.loads(value)) for _, value in sent]
    assert values == [SECOND * 100_000 + n for n in (8, 9, 10, 11)]


def test_sequence_rules() -> None:
    sequence = StoreSequence()
    later = _change(INSERT, None, (1, "a", None), SECOND + 5, "t1", 1)
    assert sequence.number(later) == (SECOND + 5) * 100_000 + 1
    assert sequence.number(later) == (SECOND + 5) * 100_000 + 1, "the same change again: the same number"
    earlier = _change(INSERT, None, (2, "a", None), SECOND, "t2", 1)  # a commit time that went back
    assert sequence.number(earlier) == (SECOND + 5) * 100_000 + 2
    next_second = _change(INSERT, None, (3, "a", None), SECOND + 6, "t3", 1)
    assert sequence.number(next_second) == (SECOND + 6) * 100_000 + 1, "a new second starts its own count"
    assert sequence.number(change(RecordType.ROW, all_types_context(), after=ROW)) is None, "full sync: none"
    sequence.resume({SEQUENCE_FIELD: 5})
    assert sequence.last == (SECOND + 6) * 100_000 + 1, "a lower checkpoint value never goes back"
    sequence.resume(None)
    sequence.resume({"file": "f", "position": 4})
    assert sequence.last == (SECOND + 6) * 100_000 + 1


def test_a_change_rendered_twice_keeps_its_number() -> None:
    """Default's compiled record hands unusual values to the general path, which asks for it again."""
    ctx = all_types_context()
    sequence = StoreSequence(SECOND * 100_000)
    record = record_function(DefaultSerializer(sequence=sequence.number), ctx)
    odd = change(INSERT, ctx, after=with_unusual_types(ctx, ROW), sequence=1)
    plain = change(INSERT, ctx, after=ROW, sequence=2)
    first = json.loads(record(odd)[1])["allMetaData"]["storeDataSequence"]
    second = json.loads(record(plain)[1])["allMetaData"]["storeDataSequence"]
    assert (first, second) == (SECOND * 100_000 + 1, SECOND * 100_000 + 2)


@pytest.mark.parametrize("kind", [INSERT, UPDATE, DELETE])
def test_compiled_and_general_default_agree_with_a_stream_sequence(kind: RecordType) -> None:
    ctx = all_types_context()
    images = {INSERT: {"after": ROW}, UPDATE: {"before": ROW, "after": ROW}, DELETE: {"before": ROW}}[kind]
    changes = [change(kind, ctx, **images, sequence=1), change(kind, ctx, **images, sequence=1)]
    compiled = record_function(DefaultSerializer(sequence=StoreSequence().number), ctx)
    general = DefaultSerializer(sequence=StoreSequence().number)
    got = [compiled(one) for one in changes]
    assert got == [(general.key(one, ctx), general.value(one, ctx)) for one in changes]
    numbers = [json.loads(value)["allMetaData"]["storeDataSequence"] for _, value in got]
    assert numbers == [1_609_344_671_00001, 1_609_344_671_00002], "two changes alike: two numbers"


KEY_MOVES = [  # before, after
    _change(INSERT, None, (4, "d", None), SECOND, "t1", 1),
    _change(UPDATE, (4, "d", None), (40, "d", None), SECOND, "t2", 1),  # the key moves
    _change(UPDATE, (40, "d", None), (40, "e", None), SECOND, "t3", 1),  # the key stays
    _change(DELETE, (40, "e", None), None, SECOND, "t4", 1),
]


def _keys_and_kinds(method: str, sent: list[tuple[bytes | None, bytes | None]]) -> list[tuple[Any, str]]:
    def key(raw: bytes | None) -> Any:
        return json.loads(raw)["payload"]["a"] if method == "Debezium" else int(raw)

    return [(key(k), "TOMBSTONE" if v is None else KIND_OF[method](json.loads(v))) for k, v in sent]


@pytest.mark.parametrize("method", METHODS)
def test_key_change_and_tombstones_in_every_method(method: str) -> None:
    router, _ = _router(method, key_change="delete_then_insert", tombstones_on_delete=True)
    assert _keys_and_kinds(method, _sent(router, KEY_MOVES)) == [
        (4, "INSERT"), (4, "DELETE"), (4, "TOMBSTONE"), (40, "INSERT"), (40, "UPDATE"), (40, "DELETE"),
        (40, "TOMBSTONE"),
    ]  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_key_change_without_tombstones(method: str) -> None:
    router, _ = _router(method, key_change="delete_then_insert")
    assert _keys_and_kinds(method, _sent(router, KEY_MOVES)) == [
        (4, "INSERT"), (4, "DELETE"), (40, "INSERT"), (40, "UPDATE"), (40, "DELETE"),
    ]  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_options_off_give_one_message_per_change(method: str) -> None:
    router, _ = _router(method)
    assert _keys_and_kinds(method, _sent(router, KEY_MOVES)) == [
        (4, "INSERT"), (40, "UPDATE"), (40, "UPDATE"), (40, "DELETE"),
    ]  # fmt: skip
    topic, ctx, record, messages = router.tables[("d", "t")]
    assert messages is None, "the one-message path, untouched"


def test_the_split_halves_carry_the_images_and_their_own_numbers() -> None:
    router, _ = _router("Default", key_change="delete_then_insert")
    sent = [json.loads(v) for _, v in _sent(router, KEY_MOVES[:2])]
    _, gone, moved = sent
    assert gone["prevStruct"]["a"] == 4 and gone["postStruct"] is None
    assert moved["prevStruct"] is None and moved["postStruct"]["a"] == 40
    sequences = [m["allMetaData"]["storeDataSequence"] for m in sent]
    assert sequences == [SECOND * 100_000 + n for n in (1, 2, 3)], "each message its own number"
    assert gone["allMetaData"]["transId"] == moved["allMetaData"]["transId"] == "t2"


def test_shard_columns_decide_whether_the_key_moved() -> None:
    router, _ = _router("Default", key_change="delete_then_insert", shard_columns=["b"])
    changes = [
        _change(UPDATE, (1, "x", None), (2, "x", None), SECOND, "t1", 1),  # only the primary key moves
        _change(UPDATE, (2, "x", None), (2, "y", None), SECOND, "t2", 1),  # the shard column moves
    ]
    sent = [(key, json.loads(value)["recordType"]) for key, value in _sent(router, changes)]
    assert sent == [(b"x", "UPDATE"), (b"x", "DELETE"), (b"y", "INSERT")]


def test_keyless_tables_get_no_tombstones_and_no_split() -> None:
    options = {"key_change": "delete_then_insert", "tombstones_on_delete": True}
    router, _ = _router("Default", primary_key=(), **options)
    changes = [_change(UPDATE, (1, "x", None), (2, "y", None), SECOND, "t1", 1),
               _change(DELETE, (2, "y", None), None, SECOND, "t2", 1)]  # fmt: skip
    sent = _sent(router, changes)
    kinds = [(key, json.loads(value)["recordType"]) for key, value in sent]
    assert kinds == [(None, "UPDATE"), (None, "DELETE")]


def test_messages_function_is_none_with_both_options_off() -> None:
    ctx = key_table(("a",))
    record = record_function(DefaultSerializer(), ctx)
    key = lambda one: DefaultSerializer().key(one, ctx)  # noqa: E731
    assert messages_function(record, key, ctx, delete_then_insert=False, tombstones=False) is None
    assert messages_function(record, key, ctx, delete_then_insert=False, tombstones=True) is not None
