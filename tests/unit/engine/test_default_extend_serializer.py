"""The DefaultExtendColumnType method: Default plus `__light_type` in each image; golden messages and keys."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_obkafka.engine.change import RecordType, RowChange, TableContext, build_table_context
from airflow_provider_obkafka.engine.serializers import kafka_key, serializer_for
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.serializers.default_extend import DefaultExtendColumnTypeSerializer
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.schema import Column, TableSchema
from tests.unit.engine.test_default_serializer import (
    ALL_TYPES,
    GOLDEN,
    ROW,
    TOP_LEVEL,
    UPDATE_GOLDEN,
    UPDATED,
    all_types_context,
    change,
    key_table,
    parse,
    pretty,
)

INSERT, UPDATE, DELETE, ROW_TYPE = RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE, RecordType.ROW
PK_UPDATED = (2,) + UPDATED[1:]  # the row's primary key changes from 1 to 2
LIGHT = "__light_type"
# The every-type table's columns and the schemaType each gets: the MySQL type name in upper case.
SCHEMA_TYPES = {name: data_type.upper() for name, data_type, *_ in ALL_TYPES}


def changes(ctx: TableContext) -> dict[str, RowChange]:
    """ROW, INSERT, UPDATE, DELETE and a primary-key UPDATE of the every-type table, one transaction."""
    return {
        "ROW": change(ROW_TYPE, ctx, after=ROW),
        "INSERT": change(INSERT, ctx, after=ROW, sequence=1),
        "UPDATE": change(UPDATE, ctx, before=ROW, after=UPDATED, sequence=2),
        "UPDATE_PK": change(UPDATE, ctx, before=UPDATED, after=PK_UPDATED, sequence=3),
        "DELETE": change(DELETE, ctx, before=PK_UPDATED, sequence=4),
    }


def message(row_change: RowChange, ctx: TableContext) -> dict[str, Any]:
    """The parsed DefaultExtendColumnType message of a change."""
    return json.loads(DefaultExtendColumnTypeSerializer().value(row_change, ctx))  # type: ignore[no-any-return]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx = all_types_context(business_system_id="CIBS")
    extend = DefaultExtendColumnTypeSerializer(intra_transaction_sequence=True)
    produced = {kind: extend.value(c, ctx) for kind, c in changes(ctx).items()}
    exact, readable = GOLDEN / "default_extend_all_types.jsonl", GOLDEN / "default_extend_all_types.json"
    if UPDATE_GOLDEN:
        exact.write_bytes(b"\n".join(produced.values()) + b"\n")
        readable.write_text(pretty({kind: parse(value) for kind, value in produced.items()}) + "\n", "utf-8")
    assert list(produced.values()) == exact.read_bytes().splitlines()
    expected = parse(readable.read_text(encoding="utf-8"))
    for kind, value in produced.items():
        assert parse(value) == expected[kind], kind
        assert list(parse(value)) == [*TOP_LEVEL]


@pytest.mark.parametrize("kind", ["ROW", "INSERT", "UPDATE", "UPDATE_PK", "DELETE"])
def test_default_message_plus_light_type_in_each_image(kind: str) -> None:
    ctx = all_types_context(business_system_id="CIBS")
    row_change = changes(ctx)[kind]
    ours, default = message(row_change, ctx), json.loads(DefaultSerializer().value(row_change, ctx))
    for image in ("prevStruct", "postStruct"):
        if default[image] is None:
            assert ours[image] is None
            continue
        assert list(ours[image]) == [*default[image], LIGHT]
        assert ours[image].pop(LIGHT) == {name: {"schemaType": t} for name, t in SCHEMA_TYPES.items()}
    assert ours == default
    assert DefaultExtendColumnTypeSerializer().key(row_change, ctx) == kafka_key(row_change, ctx)


def test_exact_bytes_are_default_with_the_type_object_inserted() -> None:
    ctx = all_types_context()
    insert = changes(ctx)["INSERT"]
    default = DefaultSerializer().value(insert, ctx)
    light = json.dumps({n: {"schemaType": t} for n, t in SCHEMA_TYPES.items()}, separators=(",", ":"))
    assert (
        DefaultExtendColumnTypeSerializer().value(insert, ctx)
        == default[:-2] + f',"{LIGHT}":{light}}}}}'.encode()
    )


def test_primary_key_update() -> None:
    ctx = all_types_context()
    pk_update = changes(ctx)["UPDATE_PK"]
    value = message(pk_update, ctx)
    assert (value["prevStruct"]["id"], value["postStruct"]["id"]) == (1, 2)
    assert value["allMetaData"]["record_primary_value"] == "2"
    assert DefaultExtendColumnTypeSerializer().key(pk_update, ctx) == b"2"


def test_column_selection_and_keyless_table() -> None:
    ctx = key_table((), columns=["c", "a"])
    row_change = RowChange("d", "t", DELETE, ctx.image_columns, (3, "x", None), None, ())
    value = message(row_change, ctx)
    assert value["prevStruct"] == {"a": 3, "c": None, LIGHT: {"a": {"schemaType": "INT"},
                                                              "c": {"schemaType": "DATETIME"}}}  # fmt: skip
    assert value["allMetaData"]["record_primary_key"] is None
    assert DefaultExtendColumnTypeSerializer().key(row_change, ctx) is None


def test_heartbeat_has_no_images() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    value = message(heartbeat, ctx)
    assert (value["prevStruct"], value["postStruct"], value["recordType"]) == (None, None, "HEARTBEAT")
    assert DefaultExtendColumnTypeSerializer().value(heartbeat, ctx) == DefaultSerializer().value(
        heartbeat, ctx
    )


def test_intra_transaction_sequence_option_changes_nothing() -> None:
    ctx = all_types_context()
    for row_change in changes(ctx).values():
        numbered = DefaultExtendColumnTypeSerializer(intra_transaction_sequence=True).value(row_change, ctx)
        assert numbered == DefaultExtendColumnTypeSerializer().value(row_change, ctx)


def test_unusual_python_types_fall_back_to_full_rendering() -> None:
    ctx = all_types_context()
    odd = list(ROW)
    odd[ctx.image_columns.index("c_varchar")] = "hello 世界 😀".encode()
    odd[ctx.image_columns.index("c_set")] = {"c", "a"}
    odd[ctx.image_columns.index("c_int")] = Decimal(2147483647)
    extend = DefaultExtendColumnTypeSerializer()
    assert extend.value(change(ROW_TYPE, ctx, after=tuple(odd)), ctx) == extend.value(
        change(ROW_TYPE, ctx, after=ROW), ctx
    )


def test_a_column_named_like_the_type_field_is_an_error() -> None:
    columns = (Column(name="id", position=1, data_type="int", column_type="int"),
               Column(name=LIGHT, position=2, data_type="int", column_type="int"))  # fmt: skip
    ctx = build_table_context(TableSchema(database="d", table="t", columns=columns, primary_key=("id",)))
    with pytest.raises(SchemaError, match="table d.t: column '__light_type' collides with"):
        DefaultExtendColumnTypeSerializer().value(
            RowChange("d", "t", INSERT, ctx.image_columns, None, (1, 2)), ctx
        )
    narrowed = build_table_context(ctx.schema, columns=["id"])
    insert = RowChange("d", "t", INSERT, narrowed.image_columns, None, (1, 2), ("id",))
    assert message(insert, narrowed)["postStruct"] == {"id": 1, LIGHT: {"id": {"schemaType": "INT"}}}


@pytest.mark.parametrize(
    "name", ["DefaultExtendColumnType", "DEFAULT_WITH_SCHEMA", "defaultextendcolumntype"]
)
def test_serializer_for_default_extend(name: str) -> None:
    found = serializer_for(name)
    assert isinstance(found, DefaultExtendColumnTypeSerializer)
    assert found.name == "DefaultExtendColumnType"
