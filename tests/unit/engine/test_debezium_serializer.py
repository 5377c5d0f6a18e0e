"""The Debezium method: golden events for every column type, value rules, envelope, keys and options."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.serializers.debezium import DebeziumSerializer
from airflow_provider_obkafka.engine.serializers.debezium_values import debezium_value
from airflow_provider_obkafka.models.schema import Column
from tests.unit.engine.serializer_cases import (
    COMMIT_US,
    CST,
    DELETE,
    INSERT,
    ROW,
    ROW_TYPE,
    TX,
    UPDATE,
    all_type_changes,
    all_types_context,
    change,
    check_golden,
    key_table,
    parse,
)

NOW_MS = 1_668_495_423_594
SOURCE_KEYS = ["connector", "pos", "name", "version", "ts_ms", "db", "table"]  # the reference's order (§9.2)


def debezium(**kw: Any) -> DebeziumSerializer:
    """A Debezium serializer whose clock is fixed at NOW_MS."""
    return DebeziumSerializer(clock=lambda: NOW_MS, **kw)


def payload(row_change: RowChange, ctx: TableContext, **kw: Any) -> dict[str, Any]:
    """The parsed payload of a change's event."""
    return parse(debezium(**kw).value(row_change, ctx))["payload"]  # type: ignore[no-any-return]


def _golden(name: str, produced: dict[str, tuple[bytes | None, bytes]]) -> None:
    """Compare keys and values with `<name>.jsonl` (exact bytes) and `<name>.json` (readable, parsed)."""
    values = {kind: value for kind, (_, value) in produced.items()}
    readable = {kind: {"key": parse(key), "value": parse(value)} for kind, (key, value) in produced.items()}
    expected = check_golden(name, values, readable)
    for kind, (key, value) in produced.items():
        assert parse(value) == expected[kind]["value"], kind
        assert parse(key) == expected[kind]["key"], kind


def test_golden_events() -> None:
    ctx, serializer = all_types_context(), debezium()
    changes = all_type_changes(ctx)
    _golden(
        "debezium_all_types",
        {kind: (serializer.key(c, ctx), serializer.value(c, ctx)) for kind, c in changes.items()},
    )


def test_golden_events_with_schema_and_transaction() -> None:
    ctx, serializer = all_types_context(), debezium(include_schema=True, intra_transaction_sequence=True)
    changes = all_type_changes(ctx)
    produced = {
        kind: (serializer.key(changes[kind], ctx), serializer.value(changes[kind], ctx))
        for kind in ("INSERT", "DELETE")
    }
    _golden("debezium_all_types_schema", produced)


ENVELOPE = [
    # kind, op, payload keys, source.pos, source.ts_ms
    ("ROW", "c", ["op", "source", "after", "ts_ms"], "", NOW_MS),
    ("INSERT", "c", ["op", "source", "after", "ts_ms"], "mysql-bin.000003@1234", COMMIT_US // 1000),
    ("UPDATE", "u", ["op", "before", "source", "after", "ts_ms"], "mysql-bin.000003@1234", COMMIT_US // 1000),
    ("DELETE", "d", ["op", "before", "source", "ts_ms"], "mysql-bin.000003@1234", COMMIT_US // 1000),
]


@pytest.mark.parametrize(("kind", "op", "keys", "pos", "source_ts"), ENVELOPE)
def test_envelope_per_record_type(kind: str, op: str, keys: list[str], pos: str, source_ts: int) -> None:
    ctx = all_types_context()
    event = parse(debezium().value(all_type_changes(ctx)[kind], ctx))
    assert list(event) == ["payload"]  # no `schema` unless asked for (OMS default)
    got = event["payload"]
    assert (got["op"], list(got), got["ts_ms"]) == (op, keys, NOW_MS)
    assert list(got["source"]) == SOURCE_KEYS
    assert got["source"] == {"connector": "OB_MYSQL", "pos": pos, "name": "OMS", "version": "",
                             "ts_ms": source_ts, "db": "app", "table": "all_types"}  # fmt: skip
    image = got.get("after", got.get("before"))
    assert list(image) == list(ctx.columns)


def test_update_images_are_full() -> None:
    ctx = all_types_context()
    got = payload(all_type_changes(ctx)["UPDATE"], ctx)
    assert got["before"]["c_varchar"] == "hello 世界 😀"
    assert got["after"]["c_varchar"] == "bye 世界"
    assert got["before"]["c_decimal"] == "-12345678901234567890123456789012345.123456789012345678901234567800"
    assert got["after"]["c_decimal"] == "0.000000000000000000000000000000"
    assert {k for k in got["before"] if got["before"][k] != got["after"][k]} == {"c_decimal", "c_varchar"}


def col(data_type: str, column_type: str | None = None, **extra: Any) -> Column:
    """One column of the given type."""
    return Column(name="c", position=1, data_type=data_type, column_type=column_type or data_type, **extra)


VALUES = [
    # (column, source value, written value, Connect type)
    (col("tinyint", "tinyint(1)"), 2, 2, "int16"),
    (col("boolean"), 1, True, "boolean"),
    (col("smallint", unsigned=True), 65535, 65535, "int32"),
    (col("int", unsigned=True), 4294967295, 4294967295, "int64"),
    (col("bigint"), -9223372036854775808, -9223372036854775808, "int64"),
    (col("bigint", unsigned=True), 18446744073709551615, "18446744073709551615", "string"),
    (col("bigint", unsigned=True), 5, "5", "string"),
    (col("year"), 2024, 2024, "int32"),
    (col("decimal"), Decimal("1241.41000"), "1241.41000", "string"),
    (col("decimal"), Decimal("0E-30"), "0." + "0" * 30, "string"),
    (col("float"), 1.2222000360488892, 1.2222, "float64"),
    (col("double"), 2.4212412, 2.4212412, "float64"),
    (col("varchar"), "中文", "中文", "string"),
    (col("enum"), "it's", "it's", "string"),
    (col("set", enum_values=("x", "y", "z")), {"z", "x"}, "x,z", "string"),
    (col("json"), {"a": [1, 2.5]}, '{"a": [1, 2.5]}', "string"),
    (col("binary", "binary(4)", length=4), b"a", "61000000", "string"),
    (col("varbinary"), b"\x00\xff", "00FF", "string"),
    (col("blob"), b"hello", "68656C6C6F", "string"),
    (col("bit", "bit(12)", precision=12), "101010101010", "0AAA", "string"),
    (col("bit", "bit(1)", precision=1), b"\x01", "01", "string"),
    (col("bit", "bit(8)"), 255, "FF", "string"),
    (col("date"), date(2022, 11, 15), 19311, "int32"),
    (col("date"), "2024-02-29", 19782, "int32"),
    (col("date"), "1000-01-01", -354285, "int32"),
    (col("date"), "0000-00-00", None, "int32"),
    (col("date", nullable=False), "0000-00-00", 0, "int32"),
    (col("time"), timedelta(hours=10, minutes=1), 36060000000, "int64"),
    (col("time"), "-838:59:59", -3020399000000, "int64"),
    (col("time"), "100:00:00.5", 360000500000, "int64"),
    (col("time"), "00:00:01.12", 1120000, "int64"),
    (col("time"), timedelta(hours=-12, minutes=-30), -45000000000, "int64"),
    (col("datetime"), datetime(2022, 11, 15, 5, 12, 11), 1668489131000, "int64"),
    (col("datetime"), "2020-11-25 00:01:02.12", 1606262462120, "int64"),
    (col("datetime"), "9999-12-31 23:59:59.999999", 253402300799999, "int64"),
    (col("datetime"), "1000-01-01 00:00:00", -30610224000000, "int64"),
    (col("datetime"), "0000-00-00 00:00:00", None, "int64"),
    (col("datetime", nullable=False), "0000-00-00 00:00:00.000", 0, "int64"),
    (col("timestamp"), datetime(2022, 11, 15, 5, 12, 11), "2022-11-15T05:12:11Z", "string"),
    (col("timestamp"), datetime(2020, 11, 24, 16, 1, 2, 12340), "2020-11-24T16:01:02.01234Z", "string"),
    (col("timestamp"), datetime(2020, 11, 25, 0, 1, 2, tzinfo=CST), "2020-11-24T16:01:02Z", "string"),
    (col("timestamp"), datetime(1970, 1, 1), None, "string"),
    (col("timestamp"), "0000-00-00 00:00:00", None, "string"),
    (col("timestamp", nullable=False), datetime(1970, 1, 1), "1970-01-01T00:00:00Z", "string"),
    (col("geometry"), b"\xe6\x10\x00\x00\x01\x01\x00\x00\x00", {"wkb": "0101000000", "srid": 4326}, "struct"),
]  # fmt: skip


@pytest.mark.parametrize(("column", "source", "written", "schema_type"), VALUES)
def test_value_rules(column: Column, source: Any, written: Any, schema_type: str) -> None:
    rule = debezium_value(column)
    got = rule.render(source)
    assert got == written
    assert type(got) is type(written)
    assert rule.schema_type == schema_type


def test_primary_key_update() -> None:
    ctx = key_table(("a",))
    pk_change = RowChange(
        "d", "t", UPDATE, ctx.image_columns, (1, "x", None), (2, "x", None), ("a",), COMMIT_US
    )
    got = payload(pk_change, ctx)
    assert (got["op"], got["before"]["a"], got["after"]["a"]) == ("u", 1, 2)  # one event, not delete + create
    assert debezium().key(pk_change, ctx) == b'{"payload":{"a":2}}'


KEYS = [
    ("single", ("a",), {}, (3, "x", None), b'{"payload":{"a":3}}'),
    ("composite", ("a", "b"), {}, (3, "华", None), '{"payload":{"a":3,"b":"华"}}'.encode()),
    ("shard columns", ("a",), {"shard_columns": ["c", "b"]}, (3, "x", datetime(2020, 1, 2, 3, 4, 5)),
     b'{"payload":{"c":1577934245000,"b":"x"}}'),
    ("no key", (), {}, (3, "x", None), None),
]  # fmt: skip


@pytest.mark.parametrize(("pk", "kw", "row", "key"), [k[1:] for k in KEYS], ids=[k[0] for k in KEYS])
def test_key(pk: tuple[str, ...], kw: dict[str, Any], row: Any, key: bytes | None) -> None:
    ctx = key_table(pk, **kw)
    row_change = RowChange("d", "t", INSERT, ctx.image_columns, None, row, ctx.key_columns, COMMIT_US)
    assert debezium().key(row_change, ctx) == key
    delete = RowChange("d", "t", DELETE, ctx.image_columns, row, None, ctx.key_columns, COMMIT_US)
    assert debezium().key(delete, ctx) == key  # from the before image


def test_key_with_schema() -> None:
    ctx = key_table(("a", "b"))
    row_change = RowChange("d", "t", INSERT, ctx.image_columns, None, (3, "x", None), ("a", "b"), COMMIT_US)
    assert json.loads(debezium(include_schema=True).key(row_change, ctx)) == {
        "schema": {"type": "struct", "optional": False, "fields": [
            {"field": "a", "optional": True, "type": "int32"},
            {"field": "b", "optional": True, "type": "string"}]},
        "payload": {"a": 3, "b": "x"},
    }  # fmt: skip


def test_transaction_block_counts_per_table_and_restarts() -> None:
    ctx, other = key_table(("a",)), key_table(("a",))
    serializer = debezium(intra_transaction_sequence=True)

    def block(table: str, txn: str, sequence: int) -> dict[str, Any]:
        row_change = RowChange("d", table, INSERT, ctx.image_columns, None, (1, "x", None), ("a",), COMMIT_US,
                               "f:4", txn, sequence)  # fmt: skip
        return json.loads(serializer.value(row_change, ctx if table == "t" else other))["payload"][
            "transaction"
        ]

    orders = [(b["total_order"], b["data_collection_order"]) for b in
              (block("t", "tx1", 1), block("u", "tx1", 2), block("t", "tx1", 3),
               block("t", "tx1", 3))]  # fmt: skip
    assert orders == [(1, 1), (2, 1), (3, 2), (3, 2)]  # the last is the same change again
    assert block("t", "tx2", 1) == {"id": "tx2", "total_order": 1, "data_collection_order": 1}
    assert block("t", "tx2", 1)["data_collection_order"] == 1  # replayed from its start: counted afresh
    row = change(ROW_TYPE, all_types_context(), after=ROW)
    assert "transaction" not in json.loads(serializer.value(row, all_types_context()))["payload"]
    assert "transaction" not in payload(all_type_changes(all_types_context())["INSERT"], all_types_context())


def test_business_system_id_and_mysql_source() -> None:
    ctx = all_types_context(tenant=None, db_type=DbType.MYSQL, business_system_id="CIBS")
    source = payload(change(INSERT, ctx, after=ROW), ctx)["source"]
    assert list(source) == [*SOURCE_KEYS, "businessSystemId"]
    assert (source["connector"], source["db"], source["businessSystemId"]) == ("MYSQL", "app", "CIBS")
    schema = json.loads(debezium(include_schema=True).value(change(INSERT, ctx, after=ROW), ctx))["schema"]
    source_fields = next(f for f in schema["fields"] if f["field"] == "source")["fields"]
    assert source_fields[-1] == {"field": "businessSystemId", "optional": True, "type": "string"}


def test_heartbeat() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    got = payload(heartbeat, ctx)
    assert (got["op"], list(got), got["source"]["ts_ms"]) == (
        "HEARTBEAT",
        ["op", "source", "ts_ms"],
        COMMIT_US // 1000,
    )


def test_column_selection() -> None:
    ctx = all_types_context(columns=["c_varchar", "c_date"])
    got = payload(all_type_changes(ctx)["UPDATE"], ctx)
    assert got["before"] == {"c_varchar": "hello 世界 😀", "c_date": 18591}
    assert debezium().key(all_type_changes(ctx)["UPDATE"], ctx) == b'{"payload":{"id":1}}'


def test_serializer_for_debezium_defaults() -> None:
    serializer = serializer_for("Debezium", intra_transaction_sequence=True)
    assert isinstance(serializer, DebeziumSerializer)
    assert serializer.intra_transaction_sequence
    assert not serializer.include_schema
    ctx = all_types_context()
    got = json.loads(serializer.value(change(INSERT, ctx, after=ROW, transaction_id=TX, sequence=1), ctx))
    assert abs(got["payload"]["ts_ms"] - time.time() * 1000) < 60_000  # the real clock by default
    assert got["payload"]["transaction"] == {"id": TX, "total_order": 1, "data_collection_order": 1}
