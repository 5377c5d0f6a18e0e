"""The DataWorks (2.0) method: golden messages, fields per record type, schema part, heartbeat, keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.serializers import kafka_key
from airflow_provider_obkafka.engine.serializers.dataworks import DataWorksSerializer
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from tests.unit.engine.serializer_cases import (
    ALL_TYPES,
    COMMIT_US,
    INSERT,
    all_types_context,
    change,
    check_golden,
    key_table,
    parse,
    transaction_changes,
)

CLOCK = 1_700_000_000.25  # the fixed "now" of these tests: systemTime 1700000000250


def serializer(**kw: Any) -> DataWorksSerializer:
    """A DataWorks serializer with the fixed clock."""
    return DataWorksSerializer(clock=lambda: CLOCK, **kw)


def message(row_change: RowChange, ctx: TableContext, **kw: Any) -> dict[str, Any]:
    """The parsed DataWorks message of a change."""
    return json.loads(serializer(**kw).value(row_change, ctx))  # type: ignore[no-any-return]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx = all_types_context(business_system_id="CIBS")
    produced = {kind: serializer().value(c, ctx) for kind, c in transaction_changes(ctx).items()}
    expected = check_golden("dataworks_all_types", produced, {k: parse(v) for k, v in produced.items()})
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
    payload = message(transaction_changes(ctx)[kind], ctx)["payload"]
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
    for kind, row_change in transaction_changes(ctx).items():
        ours, default = message(row_change, ctx), json.loads(DefaultSerializer().value(row_change, ctx))
        before, after = ours["payload"]["before"], ours["payload"]["after"]
        assert (before and before["data"]) == default["prevStruct"], kind
        assert (after and after["data"]) == default["postStruct"], kind


def test_primary_key_update_has_both_keys_and_the_new_kafka_key() -> None:
    ctx = all_types_context()
    pk_update = transaction_changes(ctx)["UPDATE_PK"]
    payload = message(pk_update, ctx)["payload"]
    assert (payload["before"]["data"]["id"], payload["after"]["data"]["id"]) == (1, 2)
    assert serializer().key(pk_update, ctx) == kafka_key(pk_update, ctx) == b"2"


def test_schema_part() -> None:
    ctx = all_types_context()
    schema = message(transaction_changes(ctx)["INSERT"], ctx)["schema"]
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
    insert = transaction_changes(plain)["INSERT"]
    assert message(insert, plain)["extend"] == {}
    with_id = message(insert, named)
    assert with_id["extend"] == {"load_fm": "CIBS"}
    assert json.dumps(with_id).count("CIBS") == 1


def test_heartbeat_is_the_documented_message() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    assert serializer().value(heartbeat, ctx) == (
        b'{"version":"2.0","payload":{"timestamp":{"eventTime":1609344671123},"op":"HEARTBEAT"}}'
    )
    untimed = change(RecordType.HEARTBEAT, ctx, commit_ts_us=None)
    assert message(untimed, ctx)["payload"]["timestamp"] == {"eventTime": 1700000000250}


def test_system_time_is_the_clock_at_serialization() -> None:
    ctx, ticks = all_types_context(), iter([1.0, 2.5])
    dataworks = DataWorksSerializer(clock=lambda: next(ticks))
    first, second = (json.loads(dataworks.value(transaction_changes(ctx)["INSERT"], ctx)) for _ in range(2))
    assert (first["payload"]["timestamp"]["systemTime"], second["payload"]["timestamp"]["systemTime"]) == (
        1000,
        2500,
    )
