"""Value rendering: one table-driven case per type and edge case (reference §3.1, docs/formats.md)."""

from __future__ import annotations

import json
import struct
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

from airflow_provider_obkafka.engine.changes.values import (
    INLINE_NAMES,
    INLINE_RENDER,
    column_kind,
    renderer_for,
    text_of,
)
from airflow_provider_obkafka.engine.changes.values_text import json_text
from airflow_provider_obkafka.models.schema import Column

CST = timezone(timedelta(hours=8))
BIG_DECIMAL = "12345678901234567890123456789012345.123456789012345678901234567000"


def col(data_type: str, column_type: str | None = None, **kw: Any) -> Column:
    """A column of the given type; `column_type` defaults to the data type."""
    return Column(name="c", position=1, data_type=data_type, column_type=column_type or data_type, **kw)


def single(value: float) -> float:
    """`value` as a single-precision float read back as double (what the binlog library gives for FLOAT)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


D30 = col("decimal", "decimal(65,30)", precision=65, scale=30)
TS6 = col("timestamp", "timestamp(6)", fractional_seconds=6)
SET = col("set", "set('a','b','c')", enum_values=("a", "b", "c"))
HMS = {"hours": 838, "minutes": 59, "seconds": 59}

# (case id, column, source value, the JSON its rendering encodes to). The key text is that JSON's string
# content, or for a number the JSON text itself.
CASES = [
    ("tinyint", col("tinyint"), 3, "3"),
    ("tinyint(1) from bool", col("tinyint", "tinyint(1)"), True, "1"),
    ("int negative", col("int"), -2147483648, "-2147483648"),
    ("bigint min", col("bigint"), -(2**63), "-9223372036854775808"),
    ("bigint unsigned max", col("bigint", unsigned=True), 2**64 - 1, "18446744073709551615"),
    ("bigint unsigned doc", col("bigint", unsigned=True), 10223372036854775806, "10223372036854775806"),
    ("year", col("year"), 2024, "2024"),
    ("int given a Decimal", col("int"), Decimal("7"), "7"),
    ("decimal trailing zeros", col("decimal", "decimal(10,4)"), Decimal("1241.4100"), "1241.4100"),
    ("decimal(65,30)", D30, Decimal(BIG_DECIMAL), BIG_DECIMAL),
    ("decimal(65,30) negative", D30, Decimal("-" + BIG_DECIMAL), "-" + BIG_DECIMAL),
    ("decimal(65,30) zero", D30, Decimal("0E-30"), "0." + "0" * 30),
    ("decimal negative", col("decimal"), Decimal("-0.500"), "-0.500"),
    ("decimal integer > 64 bits", col("decimal", "decimal(65,0)"), Decimal("1" * 40), "1" * 40),
    ("decimal exponent form", col("numeric"), Decimal("1.5E+3"), "1500"),
    ("decimal from int", col("decimal"), 5, "5"),
    ("float from text", col("float"), 1.2222, "1.2222"),
    ("float from binlog", col("float"), single(1.2222), "1.2222"),
    ("float 8 digits", col("float"), single(1.2345678), "1.2345678"),
    ("float subnormal", col("float"), single(1e-45), "1e-45"),
    ("double shortest", col("double"), 0.1, "0.1"),
    ("double 13 digits", col("double"), 9.999999999999, "9.999999999999"),
    ("double tiny", col("double"), 1e-308, "1e-308"),
    ("double from int", col("double"), 2, "2.0"),
    ("varchar", col("varchar", "varchar(20)"), "hello world", '"hello world"'),
    ("utf8mb4 emoji and Chinese", col("varchar", charset="utf8mb4"), "中文😀", '"中文😀"'),
    ("text quotes and control", col("text"), 'a"b\\c\n\x01', r'"a\"b\\c\n\u0001"'),
    ("text bytes gbk", col("varchar", charset="gbk"), "中文".encode("gbk"), '"中文"'),
    ("text bytes latin1", col("char", charset="latin1"), b"caf\xe9", '"café"'),
    ("text bytes invalid utf8", col("text", charset="utf8mb4"), b"a\xffb", '"a\ufffdb"'),
    ("text charset binary", col("varchar", charset="binary"), b"\x00a", '"AGE="'),
    ("enum", col("enum", "enum('a','b')", enum_values=("a", "b")), "b", '"b"'),
    ("set text", SET, "a,c", '"a,c"'),
    ("set python", SET, {"c", "a"}, '"a,c"'),
    ("set empty", SET, set(), '""'),
    ("set empty text", SET, "", '""'),
    ("blob", col("blob"), b"hello world", '"aGVsbG8gd29ybGQ="'),
    ("varbinary zero bytes", col("varbinary", "varbinary(8)"), b"\x00\x01\x00", '"AAEA"'),
    ("binary padded", col("binary", "binary(4)", length=4), b"ab", '"YWIAAA=="'),
    ("binary full", col("binary", "binary(2)", length=2), b"\x00\x00", '"AAA="'),
    ("longblob empty", col("longblob"), b"", '""'),
    ("geometry WKB", col("geometry"), b"\x00\x00\x00\x00\x01", '"AAAAAAE="'),
    ("bit(1) bytes", col("bit", "bit(1)", precision=1), b"\x01", '"AQ=="'),
    ("bit(1) int", col("bit", "bit(1)", precision=1), 1, '"AQ=="'),
    ("bit(1) binlog text, no precision", col("bit", "bit(1)"), "1", '"AQ=="'),
    ("bit(64) bytes", col("bit", "bit(64)", precision=64), b"\xff" * 8, '"//////////8="'),
    ("bit(64) int", col("bit", "bit(64)", precision=64), 2**64 - 1, '"//////////8="'),
    ("bit(10) binlog text", col("bit", "bit(10)", precision=10), "1000000001", '"AgE="'),
    ("bit(10) short bytes", col("bit", "bit(10)", precision=10), b"\x01", '"AAE="'),
    ("date", col("date"), date(2020, 11, 25), '"2020-11-25"'),
    ("date year 5", col("date"), date(5, 1, 2), '"0005-01-02"'),
    ("date zero", col("date"), "0000-00-00", '"0000-00-00"'),
    ("time", col("time"), timedelta(minutes=1, seconds=2), '"00:01:02"'),
    ("time negative", col("time"), -timedelta(hours=12, minutes=30), '"-12:30:00"'),
    ("time above 24h", col("time"), timedelta(**HMS), '"838:59:59"'),
    ("time negative max", col("time"), -timedelta(**HMS), '"-838:59:59"'),
    ("time fraction trimmed", col("time"), timedelta(seconds=1, microseconds=120000), '"00:00:01.12"'),
    ("time negative fraction", col("time"), -timedelta(microseconds=1), '"-00:00:00.000001"'),
    ("time of day", col("time"), time(10, 1, 0, 500), '"10:01:00.0005"'),
    ("datetime", col("datetime"), datetime(2020, 11, 25, 0, 1, 2), '"2020-11-25 00:01:02"'),
    ("datetime fraction trimmed", col("datetime"), datetime(2020, 11, 25, 0, 1, 2, 120000),
     '"2020-11-25 00:01:02.12"'),
    ("datetime aware keeps wall time", col("datetime"), datetime(2020, 11, 25, 0, 1, 2, tzinfo=CST),
     '"2020-11-25 00:01:02"'),
    ("datetime zero", col("datetime"), "0000-00-00 00:00:00", '"0000-00-00 00:00:00"'),
    ("timestamp", TS6, datetime(2020, 11, 24, 16, 1, 2, 12345), '"1606233662.012345"'),
    ("timestamp 6 digits, trailing zeros", TS6, datetime(2020, 11, 24, 16, 1, 2, 100), '"1606233662.0001"'),
    ("timestamp .5", TS6, datetime(2020, 11, 24, 16, 1, 2, 500000), '"1606233662.5"'),
    ("timestamp whole second", TS6, datetime(2020, 11, 24, 16, 1, 2), '"1606233662"'),
    ("timestamp aware +08:00", TS6, datetime(2020, 11, 25, 0, 1, 2, 12345, CST), '"1606233662.012345"'),
    ("timestamp zero text", TS6, "0000-00-00 00:00:00", '"0000-00-00 00:00:00"'),
    ("timestamp zero from binlog", TS6, datetime(1970, 1, 1), '"0000-00-00 00:00:00"'),
    ("json text as given", col("json"), '{"b": 1, "a": [1, 2]}', r'"{\"b\": 1, \"a\": [1, 2]}"'),
    ("json unicode", col("json"), '{"k": "中😀"}', r'"{\"k\": \"中😀\"}"'),
    ("json binlog dict", col("json"), {b"z": b"\xe4\xb8\xad", b"a": [1, 2.5, None, True]},
     r'"{\"z\": \"中\", \"a\": [1, 2.5, null, true]}"'),
    ("json binlog scalar", col("json"), 3, '"3"'),
    ("json binlog decimal", col("json"), [Decimal("1.50")], '"[1.50]"'),
    ("vector (no rule) text", col("vector", "vector(2)"), "[1,2]", '"[1,2]"'),
    ("unknown type decimal", col("money"), Decimal("1.10"), "1.10"),
    ("unknown type bytes", col("money"), b"\x01", '"AQ=="'),
]  # fmt: skip


@pytest.mark.parametrize(("column", "value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rendering(column: Column, value: Any, expected: str) -> None:
    renderer = renderer_for(column)
    assert orjson.dumps(renderer.render(value)).decode() == expected
    as_json = json.loads(expected)
    assert renderer.text(value) == (as_json if isinstance(as_json, str) else expected)


@pytest.mark.parametrize(
    ("data_type", "charset", "kind"),
    [
        ("bigint", None, "integer"), ("BOOL", None, "integer"), ("numeric", None, "decimal"),
        ("real", None, "double"), ("float", None, "float"), ("mediumtext", "utf8mb4", "text"),
        ("varchar", "binary", "binary"), ("point", None, "binary"), ("enum", None, "enum"),
        ("set", None, "set"), ("bit", None, "bit"), ("json", None, "json"), ("timestamp", None, "timestamp"),
        ("vector", None, "other"),
    ],
)  # fmt: skip
def test_kind_is_chosen_from_the_column(data_type: str, charset: str | None, kind: str) -> None:
    assert column_kind(col(data_type, charset=charset)) == kind
    assert renderer_for(col(data_type, charset=charset)).kind == kind


@pytest.mark.parametrize(
    ("data_type", "value"),
    [("int", 5), ("bigint", 2**64 - 1), ("double", 0.25), ("varchar", "中文"), ("enum", "a"), ("set", "a,b"),
     ("date", date(2020, 11, 25)), ("date", "0000-00-00")],
)  # fmt: skip
def test_passthrough_values_encode_as_rendered(data_type: str, value: Any) -> None:
    renderer = renderer_for(col(data_type))
    assert renderer.passthrough
    assert orjson.dumps(value) == orjson.dumps(renderer.render(value))


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_decimal_rejects_non_finite(value: Decimal) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        renderer_for(col("decimal")).render(value)


@pytest.mark.parametrize(
    ("rendered", "text"),
    [(None, ""), ("x", "x"), (12, "12"), (1.5, "1.5"), (1e20, "1e+20"), (orjson.Fragment(b"1.50"), "1.50")],
)
def test_text_of(rendered: Any, text: str) -> None:
    assert text_of(rendered) == text


def test_json_text_matches_the_server_print_style() -> None:
    document = {b"id": 1, b"tags": [b"a", b"\xe4\xb8\xad"], b"in": {b"ok": False, b"on": date(2024, 1, 2)}}
    assert json_text(document) == '{"id": 1, "tags": ["a", "中"], "in": {"ok": false, "on": "2024-01-02"}}'


INLINE_CASES = [
    datetime(2024, 5, 6, 7, 8, 10), datetime(2024, 5, 6, 7, 8, 9, 123000), datetime(1, 1, 1, 0, 0, 0, 1),
    datetime(2024, 5, 6, 7, 0, 0, 500000),
    datetime(2024, 5, 6, 7, 8, 9, 120, tzinfo=timezone(timedelta(hours=8))), date(2020, 1, 2),
    "0000-00-00 00:00:00", b"2020-01-02 03:04:05", Decimal("12.30"), Decimal("-0.000"), Decimal("0E-30"),
    Decimal("1E+5"), Decimal("-1.5E-7"), Decimal("NaN"), Decimal("Infinity"), 12, 1.5, "7.25", "x",
]  # fmt: skip


@pytest.mark.parametrize("render", list(INLINE_RENDER), ids=lambda render: render.__name__)
@pytest.mark.parametrize("value", INLINE_CASES, ids=repr)
def test_inline_render_is_the_renderer(render: Any, value: Any) -> None:
    """A renderer written inline by compiled image renderers gives its text, or its error, for any value."""
    code = INLINE_RENDER[render].format(v="v", r="r")
    inline = eval(f"lambda v: {code}", {**INLINE_NAMES, "r": render})  # noqa: S307 - our own code
    try:
        expected: Any = render(value)
    except (TypeError, ValueError, AttributeError) as exc:
        with pytest.raises(type(exc)):
            inline(value)
        return
    got = inline(value)
    assert type(got) is type(expected)
    assert orjson.dumps(got) == orjson.dumps(expected)
