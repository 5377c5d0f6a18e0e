"""
The reference's own example messages for DataWorks, SharePlex and DefaultExtendColumnType against ours.

Every example is read from `oms-kafka-formats.md` (shared/reference, beside the checkout) at test time: the
```json blocks of §5, §7 and §8 and the inline SharePlex DELETE `meta` of §8.2. For each one, the change the
example shows (its row values, as a reader would hand them over) goes through our serializer, and the message
must have the same keys with the same JSON value types, and the same values wherever the reference does not
flag them as fixture artefacts (§12 item 3: the column names of the PK metadata, `__light_type`, DataWorks
`schema.column` and SharePlex's UPDATE `data` come from another fixture than the images; §12 item 8: no tenant
in DefaultExtendColumnType's `db`; §7.2: Oracle-mode types mixed in). DDL examples (V4.1.1+) are found but not
compared: no DDL is delivered (reference §2.6 for the V4.0.0/V4.1.0 baseline).
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.serializers.dataworks import DataWorksSerializer
from airflow_provider_obkafka.engine.serializers.default_extend import DefaultExtendColumnTypeSerializer
from airflow_provider_obkafka.engine.serializers.shareplex import SharePlexSerializer
from tests.unit.engine.oms_reference import examples, parse_exact, reference_table, same_shape, section

# A type of the reference's fixture that MySQL mode does not have -> what we write for the MySQL column that
# holds the same value (docs/formats.md: type names are MySQL's).
TYPE_DIVERGENCES = {
    "INT64": "BIGINT", "BOOLEAN": "TINYINT", "ZONED_DATETIME": "VARCHAR",
    "INTERVAL_DAY_TO_SECOND": "VARCHAR", "INTERVAL_YEAR_TO_MONTH": "VARCHAR",
}  # fmt: skip


def reader_value(column_type: str, documented: Any) -> Any:
    """The value a reader hands over for a documented value of a column of `column_type`."""
    base = column_type.split("(")[0].split()[0]
    if base in ("float", "double"):
        return float(documented)
    if base == "blob":
        return base64.b64decode(documented)
    if base == "date":
        return date.fromisoformat(documented)
    if base == "time":
        hours, minutes, seconds = documented.split(":")
        return timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    if base == "datetime":
        return datetime.fromisoformat(documented)
    if base == "timestamp":  # epoch seconds text -> the naive UTC datetime of a +00:00 session
        seconds, _, fraction = documented.partition(".")
        return datetime(1970, 1, 1) + timedelta(
            seconds=int(seconds), microseconds=int(fraction.ljust(6, "0"))
        )
    return documented  # integers, DECIMAL (a Decimal already), text


def row_of(ctx: TableContext, documented: dict[str, Any]) -> tuple[Any, ...]:
    """The documented image as the row a reader gives."""
    return tuple(
        None
        if documented[name] is None
        else reader_value(ctx.schema.column(name).column_type, documented[name])
        for name in ctx.columns
    )


def assert_same_image(ctx: TableContext, documented: dict[str, Any], ours: dict[str, Any]) -> None:
    """
    The same columns in the same order with the same values. FLOAT and DOUBLE compare as binary floating
    point: the reference's literals for them are longer than a double holds (and elided, §3.1, §5).
    """
    assert list(ours) == list(documented)
    for name, value in documented.items():
        if ctx.schema.column(name).data_type in ("float", "double"):
            assert float(ours[name]) == float(value), name
        else:
            assert ours[name] == value, name


def assert_found(number: int, found: list[str], expected: list[str]) -> None:
    """Every example of the section is accounted for: none is skipped silently."""
    assert found == expected, f"section {number}: examples {found}, this test knows {expected}"


# ---------------------------------------------------------------- DefaultExtendColumnType (§5)

EXTEND_TYPES = ["tinyint", "smallint", "int", "bigint", "bigint unsigned", "float", "double", "varchar(32)",
                "blob", "decimal(65,30)", "date", "time", "datetime", "timestamp"]  # fmt: skip


def test_default_extend_insert_example() -> None:
    found = examples(5)
    assert_found(5, [doc["recordType"] for doc in found], ["INSERT"])
    documented = found[0]
    # §12 item 8: this example's db has no tenant; ours has it only when the tenant is known.
    ctx = reference_table("database", "table", EXTEND_TYPES, ("col1", "col2"))
    post = {k: v for k, v in documented["postStruct"].items() if k != "__light_type"}
    change = RowChange("database", "table", RecordType.INSERT, ctx.image_columns, None, row_of(ctx, post),
                       ctx.key_columns, 1609344671 * 10**6, None, "1002_1", 1)  # fmt: skip
    ours = parse_exact(DefaultExtendColumnTypeSerializer().value(change, ctx))

    # §12 item 3: the documented __light_type keys (int8, ...) are another fixture's; match by position.
    documented_types = list(documented["postStruct"]["__light_type"].values())
    documented["postStruct"]["__light_type"] = dict(zip(post, documented_types, strict=True))
    same_shape(documented, ours)
    assert list(ours) == list(documented)
    assert set(ours["allMetaData"]) - set(documented["allMetaData"]) == {
        "storeDataSequence",
        "uniqueId",
        "transId",
    }
    for field in ("record_primary_value", "dbType", "table_name", "db", "timestamp", "source_identity"):
        assert ours["allMetaData"][field] == documented["allMetaData"][field], field
    assert ours["prevStruct"] is documented["prevStruct"] is None
    ours_types = ours["postStruct"].pop("__light_type")
    assert_same_image(
        ctx, post, ours["postStruct"]
    )  # col10: a DECIMAL beyond MySQL's 30 digits, exact all the same
    assert list(ours_types) == list(post)
    assert [entry["schemaType"] for entry in ours_types.values()] == [
        TYPE_DIVERGENCES.get(entry["schemaType"], entry["schemaType"]) for entry in documented_types
    ]
    assert all(list(entry) == ["schemaType"] for entry in ours_types.values())


# ---------------------------------------------------------------- DataWorks (§7)

DATAWORKS_TYPES = ["tinyint", "smallint", "int", "bigint", "float", "double", "bigint unsigned", "tinyint(1)",
                   "varchar(32)", "blob", "decimal(65,30)", "date", "time", "datetime", "timestamp",
                   "varchar(64)", "varchar(32)", "varchar(32)"]  # fmt: skip


def dataworks_examples() -> dict[str, Any]:
    found = examples(7)
    ops = [doc["payload"]["op"] for doc in found]
    assert_found(7, ops, ["HEARTBEAT", "INSERT", "ALTER"])  # ALTER: a V4.1.1+ DDL, not delivered
    return dict(zip(ops, found, strict=True))


def test_dataworks_heartbeat_example_is_exactly_ours() -> None:
    documented = dataworks_examples()["HEARTBEAT"]
    ctx = reference_table("db", "tab", ["int"], ("col1",))
    when_us = documented["payload"]["timestamp"]["eventTime"] * 1000
    heartbeat = RowChange("db", "tab", RecordType.HEARTBEAT, ctx.image_columns, commit_ts_us=when_us)
    assert parse_exact(DataWorksSerializer().value(heartbeat, ctx)) == documented


def test_dataworks_insert_example() -> None:
    documented = dataworks_examples()["INSERT"]
    event_ms = documented["payload"]["timestamp"]["eventTime"]
    options = {"tenant": "t1", "business_system_id": "test"}
    ctx = reference_table("db", "tab", DATAWORKS_TYPES, ("col1", "col2"), **options)
    after = documented["payload"]["after"]["data"]
    change = RowChange("db", "tab", RecordType.INSERT, ctx.image_columns, None, row_of(ctx, after),
                       ctx.key_columns, event_ms * 1000, None, "1002_1", 1)  # fmt: skip
    system_ms = documented["payload"]["timestamp"]["systemTime"]
    ours = parse_exact(DataWorksSerializer(clock=lambda: system_ms / 1000).value(change, ctx))

    same_shape(documented, ours)
    assert list(ours) == list(documented)
    assert list(ours["payload"]) == list(documented["payload"])
    assert ours["payload"]["timestamp"] == documented["payload"]["timestamp"]
    assert list(ours["payload"]["after"]) == ["data"]
    assert_same_image(ctx, after, ours["payload"]["after"]["data"])
    assert (ours["payload"]["before"], ours["payload"]["op"], ours["payload"]["ddl"]) == (
        None,
        "INSERT",
        None,
    )
    assert ours["schema"]["source"] == documented["schema"]["source"]  # dbName "db": no tenant
    assert ours["extend"] == documented["extend"]
    # §12 item 3: the documented column and pk names (int8, pkName1, ...) are another fixture's; by position:
    assert [c["name"] for c in ours["schema"]["column"]] == list(after)
    documented_types = [c["type"] for c in documented["schema"]["column"]]
    assert [c["type"] for c in ours["schema"]["column"]] == [
        TYPE_DIVERGENCES.get(t, t) for t in documented_types
    ]
    assert ours["schema"]["pk"] == ["col1", "col2"]
    # The documented scn is the text "null"; ours is the sort sequence, as the text of a number.
    assert ours["payload"]["scn"] == "164758100000001"


# ---------------------------------------------------------------- SharePlex (§8)

SHAREPLEX_TYPES = ["datetime", "varchar(32)", "varchar(32)", "float", "double", "smallint", "time",
                   "tinyint(1)", "varchar(64)", "int", "bigint", "blob", "varchar(32)", "tinyint", "date",
                   "decimal(65,30)",
                   "bigint unsigned", "timestamp"]  # fmt: skip


def shareplex_examples() -> dict[str, Any]:
    text = section(8)
    found = examples(8)
    ops = [doc["meta"]["op"] for doc in found]
    assert_found(8, ops, ["ins", "upd", "ddl"])  # ddl: a V4.1.1+ DDL, not delivered
    inline = re.findall(r'`"meta": (\{.*?\})`', text)
    assert len(inline) == 1, "the DELETE example's meta"
    by_op = dict(zip(ops, found, strict=True))
    # "same data as INSERT, no key"
    by_op["del"] = {"data": by_op["ins"]["data"], "meta": parse_exact(inline[0])}
    return by_op


def shareplex_message(op: str, documented: dict[str, Any]) -> tuple[TableContext, dict[str, Any]]:
    """Our message for the change the example shows; the row as in the INSERT example."""
    meta = documented["meta"]
    ctx = reference_table("mock_database", "mock_table", SHAREPLEX_TYPES, ("col14", "col6"), tenant="t1")
    row = row_of(ctx, shareplex_examples()["ins"]["data"])
    commit_us = int(datetime.fromisoformat(meta["time"] + "+00:00").timestamp()) * 10**6
    if op == "upd":
        after = row[:1] + ("hello world 2020",) + row[2:]
        images, kind = (row, after), RecordType.UPDATE
    else:
        images, kind = ((row, None), RecordType.DELETE) if op == "del" else ((None, row), RecordType.INSERT)
    change = RowChange("mock_database", "mock_table", kind, ctx.image_columns, *images, ctx.key_columns,
                       commit_us, None, meta["trans"], meta["seq"])  # fmt: skip
    posttime = datetime.fromisoformat(meta["posttime"] + "+00:00").timestamp()
    serializer = SharePlexSerializer(intra_transaction_sequence=True, clock=lambda: posttime)
    return ctx, parse_exact(serializer.value(change, ctx))


@pytest.mark.parametrize("op", ["ins", "upd", "del"])
def test_shareplex_examples(op: str) -> None:
    documented = shareplex_examples()[op]
    if op == "upd":  # §12 item 3: the changed column is col2 ("hello world" in `key`), not `string`
        assert documented["data"] == {"string": "hello world 2020"}
        assert documented["key"]["col2"] == "hello world"
        documented = {**documented, "data": {"col2": "hello world 2020"}}
    ctx, ours = shareplex_message(op, documented)

    same_shape(documented, ours)
    assert list(ours) == list(documented)
    assert list(ours["meta"]) == list(documented["meta"])
    assert_same_image(ctx, documented["data"], ours["data"])
    if op == "upd":
        assert_same_image(ctx, documented["key"], ours["key"])
    for field in ("posttime", "op", "time", "seq", "table", "rowid", "trans"):
        assert ours["meta"][field] == documented["meta"][field], field
    # Not counted by OMS either (§8.1: idx "invalid", size "deprecated"); scn is the sort sequence.
    assert (ours["meta"]["size"], ours["meta"]["idx"]) == (0, "1/0")
    assert ours["meta"]["scn"] == "160626246200001"
