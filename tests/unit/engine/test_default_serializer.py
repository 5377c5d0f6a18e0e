"""The Default method: golden messages, presence per record type, Kafka keys, and the reference's examples."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_obkafka.engine import serializers
from airflow_provider_obkafka.engine.change import (
    DbType, RecordType, RowChange, TableContext, build_table_context,
)  # fmt: skip
from airflow_provider_obkafka.engine.serializers import kafka_key, register_serializer, serializer_for
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer, store_data_sequence
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.schema import Column, TableSchema

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"  # regenerate, then review the diff by hand
COMMIT_US = 1_609_344_671_123_456
TX = "1002_336195"
TOP_LEVEL = ("allMetaData", "prevStruct", "recordType", "postStruct")
INSERT, UPDATE, DELETE, ROW_TYPE = RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE, RecordType.ROW

# (name, data_type, column_type, extra Column fields): every type the provider renders.
ALL_TYPES = [
    ("id", "bigint", "bigint(20)", {"nullable": False}), ("c_tinyint", "tinyint", "tinyint(4)", {}),
    ("c_bool", "tinyint", "tinyint(1)", {}), ("c_smallint", "smallint", "smallint(6)", {}),
    ("c_mediumint", "mediumint", "mediumint(9)", {}), ("c_int", "int", "int(11)", {}),
    ("c_bigint_u", "bigint", "bigint(20) unsigned", {"unsigned": True}), ("c_year", "year", "year(4)", {}),
    ("c_decimal", "decimal", "decimal(65,30)", {"precision": 65, "scale": 30}),
    ("c_float", "float", "float", {}), ("c_double", "double", "double", {}),
    ("c_char", "char", "char(4)", {"charset": "utf8mb4", "length": 4}),
    ("c_varchar", "varchar", "varchar(32)", {"charset": "utf8mb4", "length": 32}),
    ("c_text", "text", "text", {"charset": "utf8mb4"}),
    ("c_enum", "enum", "enum('red','green')", {"enum_values": ("red", "green")}),
    ("c_set", "set", "set('a','b','c')", {"enum_values": ("a", "b", "c")}),
    ("c_binary", "binary", "binary(4)", {"length": 4}),
    ("c_varbinary", "varbinary", "varbinary(8)", {"length": 8}), ("c_blob", "blob", "blob", {}),
    ("c_bit", "bit", "bit(10)", {"precision": 10}), ("c_date", "date", "date", {}),
    ("c_time", "time", "time(6)", {"fractional_seconds": 6}),
    ("c_datetime", "datetime", "datetime(6)", {"fractional_seconds": 6}),
    ("c_timestamp", "timestamp", "timestamp(6)", {"fractional_seconds": 6}), ("c_json", "json", "json", {}),
    ("c_geometry", "geometry", "geometry", {}), ("c_null", "varchar", "varchar(8)", {"charset": "utf8mb4"}),
]  # fmt: skip
# One row as pymysql returns it (TIMESTAMP read in a +00:00 session: 2020-11-25 00:01:02.012345 +08:00).
ROW = (
    1, -128, 1, 32767, -8388608, 2147483647, 18446744073709551615, 2024,
    Decimal("-12345678901234567890123456789012345.123456789012345678901234567800"), 1.2222, 9.999999999999,
    "ab", "hello 世界 😀", 'line1\nline2 "quoted"', "green", "a,c", b"ab\x00\x00", b"\x00\x01\x00",
    b"hello world", b"\x02\x01", date(2020, 11, 25), timedelta(hours=-12, minutes=-30),
    datetime(2020, 11, 25, 0, 1, 2, 120000), datetime(2020, 11, 24, 16, 1, 2, 12345),
    '{"k": "中", "n": [1, 2.5]}', b"\x00\x00\x00\x00\x01\x01\x00\x00\x00", None,
)  # fmt: skip
CST = timezone(timedelta(hours=8))
UPDATED = ROW[:8] + (Decimal("0E-30"),) + ROW[9:12] + ("bye 世界",) + ROW[13:]  # c_decimal, c_varchar change


def all_types_context(**kw: Any) -> TableContext:
    """The every-type table `app.all_types` in tenant `t1`."""
    columns = tuple(
        Column(name=name, position=i, data_type=dt, column_type=ct, **extra)
        for i, (name, dt, ct, extra) in enumerate(ALL_TYPES, start=1)
    )
    schema = TableSchema(database="app", table="all_types", columns=columns, primary_key=("id",))
    return build_table_context(schema, **{"tenant": "t1", **kw})


def change(
    kind: RecordType, ctx: TableContext, before: Any = None, after: Any = None, **kw: Any
) -> RowChange:
    """A change of `ctx`'s table; incremental ones committed at COMMIT_US in transaction TX."""
    incremental = {"commit_ts_us": COMMIT_US, "transaction_id": TX, "checkpoint": "mysql-bin.000003:1234"}
    fields = {"checkpoint": "id=1"} if kind is ROW_TYPE else incremental
    names, key = ctx.image_columns, ctx.key_columns
    return RowChange(ctx.database, ctx.table, kind, names, before, after, key, **{**fields, **kw})


def all_type_changes(ctx: TableContext) -> dict[str, RowChange]:
    """ROW, INSERT, UPDATE, DELETE of the every-type table."""
    return {
        "ROW": change(ROW_TYPE, ctx, after=ROW),
        "INSERT": change(INSERT, ctx, after=ROW, sequence=0),
        "UPDATE": change(UPDATE, ctx, before=ROW, after=UPDATED, sequence=1),
        "DELETE": change(DELETE, ctx, before=UPDATED, sequence=2),
    }


def value_of(row_change: RowChange, ctx: TableContext) -> dict[str, Any]:
    """The parsed Default message of a change."""
    return json.loads(DefaultSerializer().value(row_change, ctx))  # type: ignore[no-any-return]


class RawNumber(str):
    """A JSON fraction kept as its text, so that parsed comparisons are exact (trailing zeros included)."""


def parse(text: str | bytes) -> Any:
    """JSON with fractions as `RawNumber` text."""
    return json.loads(text, parse_float=RawNumber)


def pretty(value: Any, level: int = 0) -> str:
    """Indented JSON that writes `RawNumber` as it is (json.dumps would round it through float)."""
    if isinstance(value, dict) and value:
        pad = "  " * (level + 1)
        items = [f"{pad}{json.dumps(k)}: {pretty(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    return str(value) if isinstance(value, RawNumber) else json.dumps(value, ensure_ascii=False)


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx, serializer = all_types_context(), DefaultSerializer()
    produced = {kind: serializer.value(c, ctx) for kind, c in all_type_changes(ctx).items()}
    exact, readable = GOLDEN / "default_all_types.jsonl", GOLDEN / "default_all_types.json"
    if UPDATE_GOLDEN:
        exact.write_bytes(b"\n".join(produced.values()) + b"\n")
        parsed = {kind: parse(value) for kind, value in produced.items()}
        readable.write_text(pretty(parsed) + "\n", encoding="utf-8")
    assert list(produced.values()) == exact.read_bytes().splitlines()
    expected = parse(readable.read_text(encoding="utf-8"))
    for kind, value in produced.items():
        message = parse(value)
        assert message == expected[kind]
        assert list(message) == list(expected[kind]) == [*TOP_LEVEL]
        assert list(message["allMetaData"]) == list(expected[kind]["allMetaData"])


def test_message_is_compact_utf8_without_escapes() -> None:
    ctx = all_types_context()
    value = DefaultSerializer().value(change(ROW_TYPE, ctx, after=ROW), ctx)
    assert "hello 世界 😀".encode() in value and b"\\u" not in value
    assert value.startswith(b'{"allMetaData":{"checkpoint":"id=1","record_primary_key":"id",')
    assert value.endswith(b'"c_geometry":"AAAAAAEBAAAA","c_null":null}}')
    assert b'"c_decimal":-12345678901234567890123456789012345.123456789012345678901234567800,' in value
    assert b'"c_bigint_u":18446744073709551615,' in value


PRESENCE = [
    # kind, prevStruct?, postStruct?, timestamp, checkpoint, storeDataSequence
    ("ROW", False, True, None, "id=1", None),
    ("INSERT", False, True, "1609344671", "1609344671", 160934467100000),
    ("UPDATE", True, True, "1609344671", "1609344671", 160934467100001),
    ("DELETE", True, False, "1609344671", "1609344671", 160934467100002),
]


@pytest.mark.parametrize(("kind", "prev", "post", "timestamp", "checkpoint", "sequence"), PRESENCE)
def test_presence_per_record_type(
    kind: str, prev: bool, post: bool, timestamp: str | None, checkpoint: str, sequence: int | None
) -> None:
    ctx = all_types_context()
    message = value_of(all_type_changes(ctx)[kind], ctx)
    meta = message["allMetaData"]
    assert message["recordType"] == kind
    assert (message["prevStruct"] is not None, message["postStruct"] is not None) == (prev, post)
    assert (meta["timestamp"], meta["checkpoint"]) == (timestamp, checkpoint)
    assert meta["storeDataSequence"] == sequence
    assert (meta["record_primary_key"], meta["record_primary_value"]) == ("id", "1")
    assert (meta["dbType"], meta["db"], meta["table_name"]) == ("OB_MYSQL", "t1.app", "all_types")
    assert (meta["uniqueId"], meta["transId"]) == ((None, None) if kind == "ROW" else (TX, TX))
    assert "businessSystemId" not in meta


def test_images_the_record_type_does_not_show_are_left_out() -> None:
    ctx = all_types_context()
    assert value_of(change(INSERT, ctx, before=ROW, after=ROW), ctx)["prevStruct"] is None
    assert value_of(change(DELETE, ctx, before=ROW, after=ROW), ctx)["postStruct"] is None


@pytest.mark.parametrize(
    ("kind", "kw"),
    [(INSERT, {"before": ROW}), (UPDATE, {"after": ROW}), (DELETE, {"after": ROW}), (ROW_TYPE, {})],
)
def test_missing_image_is_an_error(kind: RecordType, kw: dict[str, Any]) -> None:
    ctx = all_types_context()
    with pytest.raises(ValueError, match=f"{kind.value} change of app.all_types has no"):
        DefaultSerializer().value(change(kind, ctx, **kw), ctx)


def test_heartbeat() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    message = value_of(heartbeat, ctx)
    assert (message["prevStruct"], message["postStruct"], message["recordType"]) == (None, None, "HEARTBEAT")
    meta = message["allMetaData"]
    assert (meta["record_primary_key"], meta["record_primary_value"]) == (None, None)
    assert meta["timestamp"] == meta["checkpoint"] == "1609344671"
    assert DefaultSerializer().key(heartbeat, ctx) is None


def test_business_system_id_mysql_source_and_no_tenant() -> None:
    ctx = all_types_context(tenant=None, db_type=DbType.MYSQL, business_system_id="CIBS", source_identity="1")
    meta = value_of(change(ROW_TYPE, ctx, after=ROW), ctx)["allMetaData"]
    assert (meta["dbType"], meta["db"], meta["source_identity"]) == ("MYSQL", "app", "1")
    assert list(meta)[-1] == "businessSystemId"
    assert meta["businessSystemId"] == "CIBS"


def test_unusual_python_types_fall_back_to_full_rendering() -> None:
    ctx = all_types_context()
    odd = list(ROW)
    odd[ctx.image_columns.index("c_varchar")] = "hello 世界 😀".encode()  # binlog bytes for a text column
    odd[ctx.image_columns.index("c_set")] = {"c", "a"}  # binlog gives SET as a Python set
    odd[ctx.image_columns.index("c_int")] = Decimal(2147483647)
    serializer = DefaultSerializer()
    expected = serializer.value(change(ROW_TYPE, ctx, after=ROW), ctx)
    assert serializer.value(change(ROW_TYPE, ctx, after=tuple(odd)), ctx) == expected


def test_column_selection_in_messages() -> None:
    ctx = all_types_context(columns=["c_varchar", "c_int"])
    message = value_of(all_type_changes(ctx)["UPDATE"], ctx)
    assert message["prevStruct"] == {"c_int": 2147483647, "c_varchar": "hello 世界 😀"}
    assert message["postStruct"] == {"c_int": 2147483647, "c_varchar": "bye 世界"}
    assert message["allMetaData"]["record_primary_value"] == "1"


def key_table(primary_key: tuple[str, ...], **kw: Any) -> TableContext:
    """d.t(a int, b varchar, c datetime) with the given key and context options."""
    types = (("a", "int"), ("b", "varchar"), ("c", "datetime"))
    columns = tuple(Column(name=n, position=i, data_type=t, column_type=t) for i, (n, t) in enumerate(types))
    schema = TableSchema(database="d", table="t", columns=columns, primary_key=primary_key)
    return build_table_context(schema, **kw)


WHEN = datetime(2020, 1, 2, 3, 4, 5)
KEY_CASES = [
    ("single", ("a",), {}, INSERT, None, (3, "x", None), b"3"),
    ("composite", ("a", "b"), {}, INSERT, None, (3, "华", None), "3\u0001华".encode()),
    ("no key", (), {}, INSERT, None, (3, "x", None), None),
    ("shard columns", ("a",), {"shard_columns": ["c", "b"]}, ROW_TYPE, None, (3, "x", WHEN),
     b"2020-01-02 03:04:05\x01x"),
    ("shard column NULL", ("a",), {"shard_columns": ["c"]}, INSERT, None, (3, "x", None), b""),
    ("delete uses before", ("a",), {}, DELETE, (4, "x", None), None, b"4"),
    ("update uses after", ("a",), {}, UPDATE, (4, "x", None), (5, "x", None), b"5"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pk", "kw", "kind", "before", "after", "key"), [c[1:] for c in KEY_CASES], ids=[c[0] for c in KEY_CASES]
)
def test_kafka_key(
    pk: tuple[str, ...], kw: dict[str, Any], kind: RecordType, before: Any, after: Any, key: bytes | None
) -> None:
    ctx = key_table(pk, **kw)
    row_change = RowChange("d", "t", kind, ctx.image_columns, before, after, ctx.key_columns, COMMIT_US)
    assert kafka_key(row_change, ctx) == key
    assert DefaultSerializer().key(row_change, ctx) == key


def test_kafka_key_is_record_primary_value() -> None:
    ctx = key_table(("a", "b"))
    row_change = RowChange("d", "t", INSERT, ctx.image_columns, None, (3, "华", None), ("a", "b"), 1)
    meta = value_of(row_change, ctx)["allMetaData"]
    assert kafka_key(row_change, ctx) == meta["record_primary_value"].encode()
    assert meta["record_primary_key"] == "a\u0001b"


@pytest.mark.parametrize(
    ("commit_us", "sequence", "expected"),
    [(None, 3, None), (COMMIT_US, None, None), (COMMIT_US, 0, 160934467100000),
     (COMMIT_US, 99999, 160934467199999), (COMMIT_US, 100000, 160934467200000)],
)  # fmt: skip
def test_store_data_sequence(commit_us: int | None, sequence: int | None, expected: int | None) -> None:
    assert store_data_sequence(commit_us, sequence) == expected


@pytest.mark.parametrize("name", ["Default", "DEFAULT", " default ", "DefaultJsonSerializer"])
def test_serializer_for_default(name: str) -> None:
    serializer = serializer_for(name, intra_transaction_sequence=True)
    assert isinstance(serializer, DefaultSerializer)
    assert serializer.name == "Default"


@pytest.mark.parametrize(
    ("name", "match"),
    [("Avro", "is not an OMS serialization method; available: .*Default")],
)  # fmt: skip
def test_serializer_for_unknown(name: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        serializer_for(name)


def test_register_serializer() -> None:
    register_serializer("SharePlex", lambda **_: DefaultSerializer(), "SHAREPLEX")
    try:
        assert isinstance(serializer_for("shareplex"), DefaultSerializer)
    finally:
        serializers._FACTORIES.pop("SharePlex")


# Reference §4.4 (OMS CE V4.0.0 docs) without the §12 defects: the DELETE's `col16` is `col6` there. Their
# `record_primary_key` names `int8`/`int16`, a fixture artefact: here the key is (col1, col2).
EXAMPLES = json.loads((GOLDEN / "reference_default_examples.json").read_text(encoding="utf-8"))
PK = ("col1", "col2")
EXAMPLE_TYPES = ["tinyint", "smallint", "int", "bigint", "bigint", "float", "double", "varchar", "blob",
                 "decimal", "date", "time", "datetime", "timestamp"]  # fmt: skip


def example_row(col7: float, col8: str, col10: str) -> tuple[Any, ...]:
    """The examples' row as pymysql would return it."""
    return (3, 129, 2147483646, 9223372036854775806, 10223372036854775806, 1.2222, col7, col8, b"hello world",
            Decimal(col10), date(2020, 11, 25), timedelta(minutes=1, seconds=2),
            datetime(2020, 11, 25, 0, 1, 2), datetime(2020, 11, 25, 0, 1, 2, 12345, CST))  # fmt: skip


EXAMPLE_IMAGES = {
    "INSERT": (None, example_row(9.999999, "hello world", "9.99999999999")),
    "UPDATE": (example_row(9.999999999999, "hello world", "9.999999999999"),
               example_row(9.999999999999, "hello world 2020", "9.999999999999")),
    "DELETE": (example_row(9.99999999, "hello world", "9.999999999"), None),
}  # fmt: skip


def json_type(value: Any) -> str:
    """The JSON type of a parsed value."""
    types = {bool: "boolean", int: "number", float: "number", str: "string", dict: "object", list: "array"}
    return "null" if value is None else types[type(value)]


def same_shape(documented: Any, ours: Any, where: str) -> None:
    """Every documented key is in ours with the same JSON type (a documented null allows any type)."""
    if isinstance(documented, dict):
        assert isinstance(ours, dict), where
        for key, value in documented.items():
            assert key in ours, f"{where}.{key}"
            same_shape(value, ours[key], f"{where}.{key}")
    elif documented is not None:
        assert json_type(ours) == json_type(documented), where


@pytest.mark.parametrize("kind", ["INSERT", "UPDATE", "DELETE"])
def test_reference_examples_have_our_shape_and_values(kind: str) -> None:
    columns = tuple(Column(name=f"col{i}", position=i, data_type=dt, column_type=dt, unsigned=i == 5)
                    for i, dt in enumerate(EXAMPLE_TYPES, start=1))  # fmt: skip
    schema = TableSchema(database="database", table="table_name", columns=columns, primary_key=PK)
    ctx = build_table_context(schema, tenant="tenant")
    documented = EXAMPLES[kind]
    commit = 1609344671 * 10**6
    ours = value_of(change(RecordType(kind), ctx, *EXAMPLE_IMAGES[kind], commit_ts_us=commit), ctx)
    same_shape(documented, ours, kind)
    assert list(ours) == list(documented)
    added = {"storeDataSequence", "uniqueId", "transId"}
    assert set(ours["allMetaData"]) - set(documented["allMetaData"]) == added
    assert (ours["prevStruct"], ours["postStruct"]) == (documented["prevStruct"], documented["postStruct"])
    for field in ("record_primary_value", "dbType", "table_name", "db", "timestamp", "source_identity"):
        assert ours["allMetaData"][field] == documented["allMetaData"][field], field
