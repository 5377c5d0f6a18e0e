"""The Canal method: golden flat messages for every column type, `old`, types, `id`, and options."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.serializers.canal import CanalSerializer, mysql_type, sql_type
from airflow_provider_obkafka.models.schema import Column
from tests.unit.engine.serializer_cases import (
    COMMIT_US,
    INSERT,
    ROW,
    ROW_TYPE,
    TX,
    UPDATE,
    UPDATED,
    all_type_changes,
    all_types_context,
    change,
    check_golden,
    key_table,
    parse,
)

NOW_MS = 1_618_323_429_026
# Canal's FlatMessage fields, OMS's order (reference §6.2) with Canal's `id` first.
KEYS = ["id", "database", "sqlType", "data", "pkNames", "old", "mysqlType", "type", "table", "es", "isDdl",
        "ts", "sql"]  # fmt: skip


def canal(**kw: Any) -> CanalSerializer:
    """A Canal serializer whose clock is fixed at NOW_MS."""
    return CanalSerializer(clock=lambda: NOW_MS, **kw)


def message(row_change: RowChange, ctx: TableContext, **kw: Any) -> dict[str, Any]:
    """The parsed Canal message of a change (fractions kept as their exact text)."""
    return parse(canal(**kw).value(row_change, ctx))  # type: ignore[no-any-return]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx, serializer = all_types_context(), canal()
    changes = all_type_changes(ctx)
    produced = {kind: serializer.value(c, ctx) for kind, c in changes.items()}
    keys = {kind: serializer.key(c, ctx) for kind, c in changes.items()}
    readable = {kind: {"key": keys[kind].decode(), "value": parse(v)} for kind, v in produced.items()}
    expected = check_golden("canal_all_types", produced, readable)
    for kind, value in produced.items():
        assert parse(value) == expected[kind]["value"], kind
        assert list(parse(value)) == KEYS
        assert keys[kind] == expected[kind]["key"].encode()


TYPES = [
    # kind, type, data (row image), old, es
    ("ROW", "INSERT", ROW, None, NOW_MS),
    ("INSERT", "INSERT", ROW, None, COMMIT_US // 1000),
    ("UPDATE", "UPDATE", UPDATED, {"c_decimal": ROW[8], "c_varchar": ROW[12]}, COMMIT_US // 1000),
    ("DELETE", "DELETE", UPDATED, None, COMMIT_US // 1000),
]


@pytest.mark.parametrize(("kind", "canal_type", "data", "old", "es"), TYPES)
def test_record_types(kind: str, canal_type: str, data: Any, old: dict[str, Any] | None, es: int) -> None:
    ctx = all_types_context()
    got = message(all_type_changes(ctx)[kind], ctx)
    assert (got["type"], got["isDdl"], got["sql"]) == (canal_type, False, "")
    assert (got["es"], got["ts"]) == (es, NOW_MS)
    assert (got["database"], got["table"], got["pkNames"]) == ("app", "all_types", ["id"])  # no tenant
    assert len(got["data"]) == 1
    assert got["data"][0]["id"] == data[0]
    assert got["data"][0]["c_varchar"] == data[12]
    if old is None:
        assert got["old"] is None
    else:  # only the changed columns, with their before values, rendered as in `data`
        decimal = "-12345678901234567890123456789012345.123456789012345678901234567800"
        assert got["old"] == [{"c_decimal": decimal, "c_varchar": old["c_varchar"]}]


def test_id_carries_commit_second_and_intra_transaction_sequence() -> None:
    ctx = all_types_context()
    ids = {kind: message(c, ctx)["id"] for kind, c in all_type_changes(ctx).items()}
    assert ids == {"ROW": 0, "INSERT": 160934467100000, "UPDATE": 160934467100001, "DELETE": 160934467100002}
    for enabled in (False, True):  # the option changes nothing: the sequence is always there
        got = message(change(INSERT, ctx, after=ROW, sequence=7), ctx, intra_transaction_sequence=enabled)
        assert got["id"] == 160934467100007
    assert message(change(INSERT, ctx, after=ROW, sequence=None), ctx)["id"] == 0


def test_sql_and_mysql_types() -> None:
    ctx = all_types_context()
    got = message(change(ROW_TYPE, ctx, after=ROW), ctx)
    assert got["sqlType"] == {
        "id": -5, "c_tinyint": -6, "c_bool": -6, "c_smallint": 5, "c_mediumint": 4, "c_int": 4,
        "c_bigint_u": -5, "c_year": 12, "c_decimal": 3, "c_float": 6, "c_double": 8, "c_char": 1,
        "c_varchar": 12, "c_text": 2005, "c_enum": 1, "c_set": 1, "c_binary": 2004, "c_varbinary": 2004,
        "c_blob": 2004, "c_bit": -7, "c_date": 91, "c_time": 92, "c_datetime": 93, "c_timestamp": 93,
        "c_json": 12, "c_geometry": 2004, "c_null": 12,
    }  # fmt: skip
    assert got["mysqlType"]["c_bigint_u"] == "bigint"
    assert got["mysqlType"]["c_bool"] == "tinyint"
    assert list(got["sqlType"]) == list(got["mysqlType"]) == list(got["data"][0]) == list(ctx.columns)


@pytest.mark.parametrize(
    ("data_type", "extra", "code"),
    [("int", {"unsigned": True}, 4), ("tinyint", {"unsigned": True}, -6), ("bigint", {"unsigned": True}, -5),
     ("varchar", {"charset": "binary"}, 2004), ("point", {}, 2004), ("vector", {}, 1111),
     ("longtext", {}, 2005), ("mediumblob", {}, 2004)],
)  # fmt: skip
def test_sql_type_rules(data_type: str, extra: dict[str, Any], code: int) -> None:
    column = Column(name="c", position=1, data_type=data_type, column_type=data_type, **extra)
    assert sql_type(column) == code
    assert mysql_type(column) == data_type


def test_update_old_only_changed_columns_and_null_transitions() -> None:
    ctx = key_table(("a",))
    before, after = (1, "x", None), (1, None, None)
    got = message(RowChange("d", "t", UPDATE, ctx.image_columns, before, after, ("a",), COMMIT_US), ctx)
    assert got["old"] == [{"b": "x"}]
    assert got["data"] == [{"a": 1, "b": None, "c": None}]
    same = RowChange("d", "t", UPDATE, ctx.image_columns, before, before, ("a",), COMMIT_US)
    assert message(same, ctx)["old"] is None  # no column changed: Canal writes no `old`


def test_primary_key_update() -> None:
    ctx = key_table(("a",))
    before, after = (1, "x", None), (2, "x", None)
    pk_change = RowChange("d", "t", UPDATE, ctx.image_columns, before, after, ("a",), COMMIT_US)
    got = message(pk_change, ctx)
    assert (got["type"], got["data"], got["old"]) == ("UPDATE", [{"a": 2, "b": "x", "c": None}], [{"a": 1}])
    assert canal().key(pk_change, ctx) == b"2"  # the new key, as every format


def test_business_system_id_and_mysql_source() -> None:
    ctx = all_types_context(tenant=None, db_type=DbType.MYSQL, business_system_id="CIBS")
    got = message(change(ROW_TYPE, ctx, after=ROW), ctx)
    assert list(got) == [*KEYS, "businessSystemId"]
    assert (got["businessSystemId"], got["database"]) == ("CIBS", "app")
    plain = all_types_context()
    assert "businessSystemId" not in message(change(ROW_TYPE, plain, after=ROW), plain)


def test_heartbeat() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx)
    got = message(heartbeat, ctx)
    assert got["type"] == "HEARTBEAT"
    assert got["es"] == COMMIT_US // 1000
    assert [got[k] for k in ("data", "old", "pkNames", "sqlType", "mysqlType")] == [None] * 5


def test_table_without_key() -> None:
    ctx = key_table(())
    got = message(RowChange("d", "t", INSERT, ctx.image_columns, None, (1, "x", None), (), COMMIT_US), ctx)
    assert got["pkNames"] is None


def test_column_selection() -> None:
    ctx = all_types_context(columns=["c_varchar", "c_int"])
    got = message(all_type_changes(ctx)["UPDATE"], ctx)
    assert got["data"] == [{"c_int": 2147483647, "c_varchar": "bye 世界"}]
    assert got["old"] == [{"c_varchar": "hello 世界 😀"}]  # c_decimal changed too, but is not selected
    assert list(got["sqlType"]) == ["c_int", "c_varchar"]
    assert got["pkNames"] == ["id"]


def test_serializer_for_canal_uses_the_real_clock() -> None:
    serializer = serializer_for("Canal", intra_transaction_sequence=True)
    assert isinstance(serializer, CanalSerializer)
    ctx = all_types_context()
    got = json.loads(serializer.value(change(INSERT, ctx, after=ROW, transaction_id=TX), ctx))
    assert abs(got["ts"] - time.time() * 1000) < 60_000  # the real clock by default
