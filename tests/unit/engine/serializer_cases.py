"""
What the serializer tests share: the every-type table and its changes, a small keyed table, every registered
method built with a fixed clock, exact JSON parsing, and the golden-file check.

The per-method files (`test_<method>_serializer.py`) test what is specific to a method; the contracts every
method keeps are in `test_serializer_contracts.py`.
"""

from __future__ import annotations

import inspect
import json
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_obkafka.engine import serializers
from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import Serializer, serializer_for
from airflow_provider_obkafka.models.schema import Column, TableSchema

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"  # regenerate, then review the diff by hand
COMMIT_US = 1_609_344_671_123_456
TX = "1002_336195"
INSERT, UPDATE, DELETE, ROW_TYPE = RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE, RecordType.ROW
HEARTBEAT = RecordType.HEARTBEAT
# Every registered method, by its canonical name (a method added to the registry is tested with the others).
METHODS = sorted(set(serializers._METHODS) | set(serializers._FACTORIES))
FIXED_CLOCK = 1_700_000_000  # what a method's `clock` returns in `fixed(...)` (its unit is the method's)

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
PK_UPDATED = (2,) + UPDATED[1:]  # the row's primary key changes from 1 to 2


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
    """ROW, INSERT, UPDATE, DELETE of the every-type table (sequences 0 to 2)."""
    return {
        "ROW": change(ROW_TYPE, ctx, after=ROW),
        "INSERT": change(INSERT, ctx, after=ROW, sequence=0),
        "UPDATE": change(UPDATE, ctx, before=ROW, after=UPDATED, sequence=1),
        "DELETE": change(DELETE, ctx, before=UPDATED, sequence=2),
    }


def transaction_changes(ctx: TableContext) -> dict[str, RowChange]:
    """ROW, INSERT, UPDATE, DELETE and a primary-key UPDATE of the every-type table, one transaction."""
    return {
        "ROW": change(ROW_TYPE, ctx, after=ROW),
        "INSERT": change(INSERT, ctx, after=ROW, sequence=1),
        "UPDATE": change(UPDATE, ctx, before=ROW, after=UPDATED, sequence=2),
        "UPDATE_PK": change(UPDATE, ctx, before=UPDATED, after=PK_UPDATED, sequence=3),
        "DELETE": change(DELETE, ctx, before=PK_UPDATED, sequence=4),
    }


def with_unusual_types(ctx: TableContext, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """`row` with the same values in Python types the fast path rejects (binlog bytes, a set, a Decimal)."""
    odd = list(row)
    odd[ctx.image_columns.index("c_varchar")] = row[ctx.image_columns.index("c_varchar")].encode()
    odd[ctx.image_columns.index("c_set")] = {"c", "a"}  # the binlog gives SET as a Python set
    odd[ctx.image_columns.index("c_int")] = Decimal(row[ctx.image_columns.index("c_int")])
    return tuple(odd)


def key_table(primary_key: tuple[str, ...], **kw: Any) -> TableContext:
    """d.t(a int, b varchar, c datetime) with the given key and context options."""
    types = (("a", "int"), ("b", "varchar"), ("c", "datetime"))
    columns = tuple(Column(name=n, position=i, data_type=t, column_type=t) for i, (n, t) in enumerate(types))
    schema = TableSchema(database="d", table="t", columns=columns, primary_key=primary_key)
    return build_table_context(schema, **kw)


def fixed(method: str, **options: Any) -> Serializer:
    """
    Method `method` as `serializer_for` builds it, with `options`; a method that takes a `clock` gets one
    fixed at FIXED_CLOCK, so the same change always gives the same bytes.
    """
    cls = type(serializer_for(method))
    if "clock" in inspect.signature(cls).parameters:
        options["clock"] = lambda: FIXED_CLOCK
    return cls(**options)


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


def check_golden(name: str, values: dict[str, bytes], readable: dict[str, Any]) -> Any:
    """
    `values` (kind -> message) are the lines of `golden/<name>.jsonl`, byte for byte; returns the parsed
    `golden/<name>.json` (kind -> readable form) for the caller's checks. UPDATE_GOLDEN=1 rewrites both
    files first, the readable one from `readable`.
    """
    exact, legible = GOLDEN / f"{name}.jsonl", GOLDEN / f"{name}.json"
    if UPDATE_GOLDEN:
        exact.write_bytes(b"\n".join(values.values()) + b"\n")
        legible.write_text(pretty(readable) + "\n", encoding="utf-8")
    assert list(values.values()) == exact.read_bytes().splitlines()
    return parse(legible.read_text(encoding="utf-8"))


# Each method's strictly increasing sequence field (storeDataSequence, Canal id, DataWorks/SharePlex scn).
SEQUENCE_OF = {
    "Default": lambda m: m["allMetaData"]["storeDataSequence"],
    "DefaultExtendColumnType": lambda m: m["allMetaData"]["storeDataSequence"],
    "Canal": lambda m: m["id"],
    "DataWorks": lambda m: int(m["payload"]["scn"]),
    "SharePlex": lambda m: int(m["meta"]["scn"]),
}
