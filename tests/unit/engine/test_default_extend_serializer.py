"""The DefaultExtendColumnType method: Default plus `__light_type` in each image; golden messages and keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import kafka_key
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.serializers.default_extend import DefaultExtendColumnTypeSerializer
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.schema import Column, TableSchema
from tests.unit.engine.serializer_cases import (
    ALL_TYPES,
    DELETE,
    INSERT,
    all_types_context,
    change,
    check_golden,
    key_table,
    parse,
    transaction_changes,
)

LIGHT = "__light_type"
# The every-type table's columns and the schemaType each gets: the MySQL type name in upper case.
SCHEMA_TYPES = {name: data_type.upper() for name, data_type, *_ in ALL_TYPES}


def message(row_change: RowChange, ctx: TableContext) -> dict[str, Any]:
    """The parsed DefaultExtendColumnType message of a change."""
    return json.loads(DefaultExtendColumnTypeSerializer().value(row_change, ctx))  # type: ignore[no-any-return]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx = all_types_context(business_system_id="CIBS")
    extend = DefaultExtendColumnTypeSerializer(intra_transaction_sequence=True)
    produced = {kind: extend.value(c, ctx) for kind, c in transaction_changes(ctx).items()}
    readable = {kind: parse(value) for kind, value in produced.items()}
    expected = check_golden("default_extend_all_types", produced, readable)
    for kind, value in produced.items():
        assert parse(value) == expected[kind], kind
        assert list(parse(value)) == ["allMetaData", "prevStruct", "recordType", "postStruct"]


@pytest.mark.parametrize("kind", ["ROW", "INSERT", "UPDATE", "UPDATE_PK", "DELETE"])
def test_default_message_plus_light_type_in_each_image(kind: str) -> None:
    ctx = all_types_context(business_system_id="CIBS")
    row_change = transaction_changes(ctx)[kind]
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
    insert = transaction_changes(ctx)["INSERT"]
    default = DefaultSerializer().value(insert, ctx)
    light = json.dumps({n: {"schemaType": t} for n, t in SCHEMA_TYPES.items()}, separators=(",", ":"))
    assert (
        DefaultExtendColumnTypeSerializer().value(insert, ctx)
        == default[:-2] + f',"{LIGHT}":{light}}}}}'.encode()
    )


def test_primary_key_update() -> None:
    ctx = all_types_context()
    pk_update = transaction_changes(ctx)["UPDATE_PK"]
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
