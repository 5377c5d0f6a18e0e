"""
The Default method: golden messages, presence per record type, `record_primary_value`, `storeDataSequence`
and the reference's examples. What every method keeps (errors, keys, names): test_serializer_contracts.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import kafka_key
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.serializers.sequence import store_data_sequence
from airflow_provider_obkafka.models.schema import Column, TableSchema
from tests.unit.engine.oms_reference import same_shape
from tests.unit.engine.serializer_cases import (
    COMMIT_US,
    CST,
    DELETE,
    GOLDEN,
    INSERT,
    ROW,
    ROW_TYPE,
    TX,
    all_type_changes,
    all_types_context,
    change,
    check_golden,
    key_table,
    parse,
)

TOP_LEVEL = ("allMetaData", "prevStruct", "recordType", "postStruct")


def value_of(row_change: RowChange, ctx: TableContext) -> dict[str, Any]:
    """The parsed Default message of a change."""
    return json.loads(DefaultSerializer().value(row_change, ctx))  # type: ignore[no-any-return]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx, serializer = all_types_context(), DefaultSerializer()
    produced = {kind: serializer.value(c, ctx) for kind, c in all_type_changes(ctx).items()}
    expected = check_golden("default_all_types", produced, {k: parse(v) for k, v in produced.items()})
    for kind, value in produced.items():
        message = parse(value)
        assert message == expected[kind]
        assert list(message) == list(expected[kind]) == [*TOP_LEVEL]
        assert list(message["allMetaData"]) == list(expected[kind]["allMetaData"])


def test_message_is_compact_utf8_without_escapes() -> None:
    ctx = all_types_context()
    value = DefaultSerializer().value(change(ROW_TYPE, ctx, after=ROW), ctx)
    assert "hello 世界 😀".encode() in value
    assert b"\\u" not in value
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


def test_heartbeat() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    message = value_of(heartbeat, ctx)
    assert (message["prevStruct"], message["postStruct"], message["recordType"]) == (None, None, "HEARTBEAT")
    meta = message["allMetaData"]
    assert (meta["record_primary_key"], meta["record_primary_value"]) == (None, None)
    assert meta["timestamp"] == meta["checkpoint"] == "1609344671"


def test_business_system_id_mysql_source_and_no_tenant() -> None:
    ctx = all_types_context(tenant=None, db_type=DbType.MYSQL, business_system_id="CIBS", source_identity="1")
    meta = value_of(change(ROW_TYPE, ctx, after=ROW), ctx)["allMetaData"]
    assert (meta["dbType"], meta["db"], meta["source_identity"]) == ("MYSQL", "app", "1")
    assert list(meta)[-1] == "businessSystemId"
    assert meta["businessSystemId"] == "CIBS"


def test_column_selection_in_messages() -> None:
    ctx = all_types_context(columns=["c_varchar", "c_int"])
    message = value_of(all_type_changes(ctx)["UPDATE"], ctx)
    assert message["prevStruct"] == {"c_int": 2147483647, "c_varchar": "hello 世界 😀"}
    assert message["postStruct"] == {"c_int": 2147483647, "c_varchar": "bye 世界"}
    assert message["allMetaData"]["record_primary_value"] == "1"


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
