"""The SharePlex method: golden messages, changed columns on UPDATE, meta per record type, sequence, keys."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.serializers import kafka_key
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.serializers.shareplex import (
    SharePlexSerializer,
    changed_columns,
    utc_text,
)
from tests.unit.engine.serializer_cases import (
    COMMIT_US,
    INSERT,
    TX,
    UPDATE,
    all_types_context,
    change,
    check_golden,
    key_table,
    parse,
    transaction_changes,
)

CLOCK = 1_700_000_000.75  # the fixed "now" of these tests: posttime 2023-11-14T22:13:20
POSTTIME = "2023-11-14T22:13:20"
COMMIT_TIME = "2020-12-30T16:11:11"  # COMMIT_US in UTC
META_KEYS = ["posttime", "op", "size", "time", "idx", "seq", "table", "rowid", "trans", "scn"]


def serializer(**kw: Any) -> SharePlexSerializer:
    """A SharePlex serializer with the fixed clock."""
    return SharePlexSerializer(clock=lambda: CLOCK, **kw)


def message(row_change: RowChange, ctx: TableContext, **kw: Any) -> dict[str, Any]:
    """The parsed SharePlex message of a change."""
    return json.loads(serializer(**kw).value(row_change, ctx))  # type: ignore[no-any-return]


def default_images(row_change: RowChange, ctx: TableContext) -> tuple[Any, Any]:
    """The Default method's prevStruct and postStruct of the same change (the full rendered images)."""
    default = json.loads(DefaultSerializer().value(row_change, ctx))
    return default["prevStruct"], default["postStruct"]


def test_golden_messages_exact_bytes_and_parsed() -> None:
    ctx = all_types_context(business_system_id="CIBS")
    numbered = serializer(intra_transaction_sequence=True)
    produced = {kind: numbered.value(c, ctx) for kind, c in transaction_changes(ctx).items()}
    expected = check_golden("shareplex_all_types", produced, {k: parse(v) for k, v in produced.items()})
    for kind, value in produced.items():
        assert parse(value) == expected[kind], kind
        assert list(parse(value)) == (
            ["data", "meta", "key"] if kind.startswith("UPDATE") else ["data", "meta"]
        )
        assert list(parse(value)["meta"]) == [*META_KEYS, "businessSystemId"]


PRESENCE = [
    # kind, op, time, trans, scn, seq, idx
    ("ROW", "ins", None, None, None, 0, "0/0"),
    ("INSERT", "ins", COMMIT_TIME, TX, "160934467100001", 1, "1/0"),
    ("UPDATE", "upd", COMMIT_TIME, TX, "160934467100002", 2, "2/0"),
    ("UPDATE_PK", "upd", COMMIT_TIME, TX, "160934467100003", 3, "3/0"),
    ("DELETE", "del", COMMIT_TIME, TX, "160934467100004", 4, "4/0"),
]


@pytest.mark.parametrize(("kind", "op", "time", "trans", "scn", "seq", "idx"), PRESENCE)
def test_meta_per_record_type(
    kind: str, op: str, time: str | None, trans: str | None, scn: str | None, seq: int, idx: str
) -> None:
    ctx = all_types_context()
    meta = message(transaction_changes(ctx)[kind], ctx, intra_transaction_sequence=True)["meta"]
    assert list(meta) == META_KEYS
    assert (meta["op"], meta["time"], meta["trans"], meta["scn"]) == (op, time, trans, scn)
    assert (meta["seq"], meta["idx"], meta["size"]) == (seq, idx, 0)
    assert (meta["posttime"], meta["table"]) == (POSTTIME, "app.all_types")
    assert meta["rowid"] == ("app.all_types-2" if kind in ("UPDATE_PK", "DELETE") else "app.all_types-1")


def test_without_intra_transaction_sequence_there_is_no_seq() -> None:
    ctx = all_types_context()
    for kind, row_change in transaction_changes(ctx).items():
        meta = message(row_change, ctx)["meta"]
        assert "seq" not in meta, kind
        assert (meta["idx"], meta["size"]) == ("0/0", 0)
        assert list(meta) == [key for key in META_KEYS if key != "seq"]


def test_insert_row_and_delete_carry_the_whole_row_in_data() -> None:
    ctx = all_types_context()
    for kind in ("ROW", "INSERT", "DELETE"):
        row_change = transaction_changes(ctx)[kind]
        before, after = default_images(row_change, ctx)
        value = message(row_change, ctx)
        assert value["data"] == (before if kind == "DELETE" else after), kind
        assert "key" not in value


def test_update_data_is_the_changed_columns_and_key_the_before_image() -> None:
    ctx = all_types_context()
    update = transaction_changes(ctx)["UPDATE"]
    before, after = default_images(update, ctx)
    value = message(update, ctx)
    assert value["data"] == {"c_decimal": after["c_decimal"], "c_varchar": "bye 世界"}
    assert list(value["data"]) == ["c_decimal", "c_varchar"]
    assert value["key"] == before
    raw = serializer().value(update, ctx)
    assert raw.startswith(
        b'{"data":{"c_decimal":0.000000000000000000000000000000,"c_varchar":"bye \xe4\xb8\x96\xe7\x95\x8c"}'
    )


def test_primary_key_update() -> None:
    ctx = all_types_context()
    pk_update = transaction_changes(ctx)["UPDATE_PK"]
    value = message(pk_update, ctx)
    assert value["data"] == {"id": 2}
    assert (value["key"]["id"], value["key"]["c_varchar"]) == (1, "bye 世界")
    assert value["meta"]["rowid"] == "app.all_types-2"
    assert serializer().key(pk_update, ctx) == kafka_key(pk_update, ctx) == b"2"


def test_update_without_a_change_and_null_transitions() -> None:
    ctx = key_table(("a",))
    same = RowChange("d", "t", UPDATE, ctx.image_columns, (1, "x", None), (1, "x", None), ("a",), COMMIT_US)
    assert message(same, ctx)["data"] == {}
    when = datetime(2020, 1, 2, 3, 4, 5)
    to_value = RowChange(
        "d", "t", UPDATE, ctx.image_columns, (1, None, None), (1, "", when), ("a",), COMMIT_US
    )
    assert message(to_value, ctx)["data"] == {"b": "", "c": "2020-01-02 03:04:05"}
    to_null = RowChange(
        "d", "t", UPDATE, ctx.image_columns, (1, "", when), (1, None, None), ("a",), COMMIT_US
    )
    assert message(to_null, ctx)["data"] == {"b": None, "c": None}
    # 0 == False in Python, but they are not the same value
    assert changed_columns(ctx, (1, 0, None), (1, False, None)) == ["b"]


def test_rowid_composite_and_keyless_and_column_selection() -> None:
    composite = key_table(("a", "b"), tenant="t1", db_type=DbType.MYSQL)
    insert = RowChange(
        "d", "t", INSERT, composite.image_columns, None, (3, "华", None), ("a", "b"), COMMIT_US
    )
    meta = message(insert, composite)["meta"]
    assert (meta["table"], meta["rowid"]) == ("d.t", "d.t-3\u0001华")
    keyless = key_table((), columns=["b"])
    update = RowChange("d", "t", UPDATE, keyless.image_columns, (3, "x", None), (4, "y", None), (), COMMIT_US)
    value = message(update, keyless)
    assert (value["meta"]["rowid"], value["data"], value["key"]) == ("d.t-", {"b": "y"}, {"b": "x"})
    assert serializer().key(update, keyless) is None


def test_business_system_id_only_when_configured() -> None:
    plain, named = all_types_context(), all_types_context(business_system_id="CIBS")
    insert = transaction_changes(plain)["INSERT"]
    assert "businessSystemId" not in message(insert, plain)["meta"]
    meta = message(insert, named, intra_transaction_sequence=True)["meta"]
    assert list(meta)[-1] == "businessSystemId"
    assert meta["businessSystemId"] == "CIBS"


def test_heartbeat() -> None:
    ctx = all_types_context()
    heartbeat = change(RecordType.HEARTBEAT, ctx, sequence=None)
    value = message(heartbeat, ctx, intra_transaction_sequence=True)
    assert value == {
        "data": {},
        "meta": {"posttime": POSTTIME, "op": "heartbeat", "size": 0, "time": COMMIT_TIME, "idx": "0/0",
                 "seq": 0, "table": "app.all_types", "rowid": "app.all_types-", "trans": TX, "scn": None},
    }  # fmt: skip


def test_times_are_utc_seconds() -> None:
    assert utc_text(0) == "1970-01-01T00:00:00"
    assert utc_text(1606233662) == "2020-11-24T16:01:02"
    ctx, ticks = all_types_context(), iter([86400.999, 86401.0])
    shareplex = SharePlexSerializer(clock=lambda: next(ticks))
    insert = transaction_changes(ctx)["INSERT"]
    posttimes = [json.loads(shareplex.value(insert, ctx))["meta"]["posttime"] for _ in range(2)]
    assert posttimes == ["1970-01-02T00:00:00", "1970-01-02T00:00:01"]
