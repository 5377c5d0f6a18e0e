"""The DataWorks (2.0) method: golden messages, fields per record type, schema part, heartbeat, keys."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_obkafka.engine.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.serializers import kafka_key, serializer_for
from airflow_provider_obkafka.engine.serializers.dataworks import DataWorksSerializer
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from tests.unit.engine.test_default_serializer import (
    ALL_TYPES,
    COMMIT_US,
    GOLDEN,
    ROW,
    UPDATE_GOLDEN,
    UPDATED,
    all_types_context,
    change,
    key_table,
    parse,
    pretty,
)

CLOCK = 1_700_000_000.25  # the fixed "now" of these tests: systemTime 1700000000250
INSERT, UPDATE, DELETE, ROW_TYPE = RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE, RecordType.ROW
PK_UPDATED = (2,) + UPDATED[1:]  # the row's primary key changes from 1 to 2


def serializer(**kw: Any) -> DataWorksSerializer:
    """A DataWorks serializer with the fixed clock."""
    return DataWorksSerializer(clock=lambda: CLOCK, **kw)


def changes(ctx: TableContext) -> dict[str, RowChange]:
    """ROW, INSERT, UPDATE, DELETE and a primary-key UPDATE of the every-type table, one transaction."""
    return {
        "ROW": change(ROW_TYPE, ctx, after=ROW),
        "INSERT": change(INSERT, ctx, after=ROW, sequence=1),
        "UPDATE": change(UPDATE, ctx, before=ROW, after=UPDATED, sequence=2),
        "UPDATE_PK": change(UPDATE, ctx, before=UPDATED, after=PK_UPDATED, sequence=3),
        "DELETE": change(DELETE, ctx, before=PK_UPDATED, sequence=4),
    }


def message(row_change: RowChange, ctx: TableContext, **kw: Any) -> dict[str, Any]:
    """The parsed DataWorks message of a change."""
    return json.loads(serializer(**kw).value(row_change, ctx))  # type: ignore[no-any-return]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx = all_types_context(business_system_id="CIBS")
    produced = {kind: serializer().value(c, ctx) for kind, c in changes(ctx).items()}
    exact, readable = GOLDEN / "dataworks_all_types.jsonl", GOLDEN / "dataworks_all_types.json"
    if UPDATE_GOLDEN:
        exact.write_bytes(b"\n".join(produced.values()) + b"\n")
        readable.write_text(pretty({kind: parse(value) for kind, value in produced.items()}) + "\n", "utf-8")
    assert list(produced.values()) == exact.read_bytes().splitlines()
    expected = parse(readable.read_text(encoding="utf-8"))
    for kind, value in produced.items():
        assert parse(value) == expected[kind], kind
        assert list(parse(value)) == ["version", "schema", "payload", "extend"]
        assert list(parse(value)["payload"]) == ["before", "after", "op", "timestamp", "ddl", "scn"]


PRESENCE = [
    # kind, op, before?, after?, eventTime, checkpointTime, scn
    ("ROW", "INSERT", False, True, None, None, None),
    ("INSERT", "INSERT", False, True, 1609344671123, 1609344671, "160934467100001"),
    ("UPDATE", "UPDATE", True, True, 1609344671123, 1609344671, "160934467100002"),
    ("UPDATE_PK", "UPDATE", True, True, 1609344671123, 1609344671, "160934467100003"),
    ("DELETE", "DELETE", True, False, 1609344671123, 1609344671, "160934467100004"),
]


@pytest.mark.parametrize(("kind", "op", "before", "after", "event", "checkpoint", "scn"), PRESENCE)
def test_fields_per_record_type(
    kind: str, op: str, before: bool, after: bool, event: int | None, checkpoint: int | None, scn: str | None
) -> None:
    ctx = all_types_context()
    payload = message(changes(ctx)[kind], ctx)["payload"]
    assert payload["op"] == op
    assert (payload["before"] is not None, payload["after"] is not None) == (before, after)
    assert payload["timestamp"] == {
        "eventTime": event,
        "systemTime": 1700000000250,
        "checkpointTime": checkpoint,
    }
    assert (payload["scn"], payload["ddl"]) == (scn, None)


def test_images_are_the_default_images_under_data() -> None:
    ctx = all_types_context()
    for kind, row_change in changes(ctx).items():
        ours, default = message(row_change, ctx), json.loads(DefaultSerializer().value(row_change, ctx))
        before, after = ours["payload"]["before"], ours["payload"]["after"]
        assert (before and before["data"]) == default["prevStruct"], kind
        assert (after and after["data"]) == default["postStruct"], kind


def test_primary_key_update_has_both_keys_and_the_new_kafka_key() -> None:
    ctx = all_types_context()
    pk_update = changes(ctx)["UPDATE_PK"]
    payload = message(pk_update, ctx)["payload"]
    assert (payload["before"]["data"]["id"], payload["after"]["data"]["id"]) == (1, 2)
    assert serializer().key(pk_update, ctx) == kafka_key(pk_update, ctx) == b"2"


def test_schema_part() -> None:
    ctx = all_types_context()
    schema = message(changes(ctx)["INSERT"], ctx)["schema"]
    assert schema["source"] == {"dbType": "ob_mysql", "dbVersion": None, "dbName": "app", "schema": None,
                                "table": "all_types"}  # fmt: skip
    assert [c["name"] for c in schema["column"]] == [name for name, *_ in ALL_TYPES]
    types = {c["name"]: c["type"] for c in schema["column"]}
    wanted = {
        "id": "BIGINT", "c_bool": "TINYINT", "c_bigint_u": "BIGINT", "c_decimal": "DECIMAL",
        "c_varchar": "VARCHAR", "c_blob": "BLOB", "c_timestamp": "TIMESTAMP", "c_json": "JSON",
    }  # fmt: skip
    assert {name: types[name] for name in wanted} == wanted
    assert schema["pk"] == ["id"]


def test_mysql_source_keyless_table_and_column_selection() -> None:
    ctx = key_table((), db_type=DbType.MYSQL, tenant="t1", columns=["c", "a"])
    row_change = RowChange("d", "t", INSERT, ctx.image_columns, None, (3, "x", None), (), COMMIT_US)
    value = message(row_change, ctx)
    assert value["schema"] == {
        "source": {"dbType": "mysql", "dbVersion": None, "dbName": "d", "schema": None, "table": "t"},
        "column": [{"name": "a", "type": "INT"}, {"name": "c", "type": "DATETIME"}],
        "pk": None,
    }
    assert value["payload"]["after"] == {"data": {"a": 3, "c": None}}
    assert serializer().key(row_change, ctx) is None


def test_business_system_id_is_extend_load_fm_only() -> None:
    plain, named = all_types_context(), all_types_context(business_system_id="CIBS")
    insert = changes(plain)["INSERT"]
    assert message(insert, plain)["extend"] == {}
    with_id = message(insert, named)
    assert with_id["extend"] == {"load_fm": "CIBS"}
    assert json.dumps(with_id).count("CIBS") == 1


def test_intra_transaction_sequence_option_changes_nothing() -> None:
    ctx = all_types_context()
    for row_change in changes(ctx).values():
        numbered = serializer(intra_transaction_sequence=True).value(row_change, ctx)
        assert numbered == serializer().value(row_change, ctx)


def test_heartbeat_is_the_documented_message() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    assert serializer().value(heartbeat, ctx) == (
        b'{"version":"2.0","payload":{"timestamp":{"eventTime":1609344671123},"op":"HEARTBEAT"}}'
    )
    assert serializer().key(heartbeat, ctx) is None
    untimed = change(RecordType.HEARTBEAT, ctx, commit_ts_us=None)
    assert message(untimed, ctx)["payload"]["timestamp"] == {"eventTime": 1700000000250}


def test_system_time_is_the_clock_at_serialization() -> None:
    ctx, ticks = all_types_context(), iter([1.0, 2.5])
    dataworks = DataWorksSerializer(clock=lambda: next(ticks))
    first, second = (json.loads(dataworks.value(changes(ctx)["INSERT"], ctx)) for _ in range(2))
    assert (first["payload"]["timestamp"]["systemTime"], second["payload"]["timestamp"]["systemTime"]) == (
        1000,
        2500,
    )


def test_unusual_python_types_fall_back_to_full_rendering() -> None:
    ctx = all_types_context()
    odd = list(ROW)
    odd[ctx.image_columns.index("c_varchar")] = "hello 世界 😀".encode()
    odd[ctx.image_columns.index("c_set")] = {"c", "a"}
    odd[ctx.image_columns.index("c_int")] = Decimal(2147483647)
    expected = serializer().value(change(ROW_TYPE, ctx, after=ROW), ctx)
    assert serializer().value(change(ROW_TYPE, ctx, after=tuple(odd)), ctx) == expected


def test_a_value_no_renderer_accepts_names_the_column() -> None:
    ctx = all_types_context()
    bad = list(ROW)
    bad[ctx.image_columns.index("c_blob")] = 12
    with pytest.raises(ValueError, match="table app.all_types: binary column 'c_blob' cannot take 12"):
        serializer().value(change(ROW_TYPE, ctx, after=tuple(bad)), ctx)


@pytest.mark.parametrize(("kind", "kw"), [(INSERT, {"before": ROW}), (UPDATE, {"after": ROW}), (DELETE, {})])
def test_missing_image_is_an_error(kind: RecordType, kw: dict[str, Any]) -> None:
    ctx = all_types_context()
    with pytest.raises(ValueError, match=f"{kind.value} change of app.all_types has no"):
        serializer().value(change(kind, ctx, **kw), ctx)


@pytest.mark.parametrize("name", ["DataWorks", "DATAWORKS_V2", "dataworks (2.0)", "Dataworks 2.0"])
def test_serializer_for_dataworks(name: str) -> None:
    found = serializer_for(name, intra_transaction_sequence=True)
    assert isinstance(found, DataWorksSerializer)
    assert (found.name, found.intra_transaction_sequence) == ("DataWorks", True)
