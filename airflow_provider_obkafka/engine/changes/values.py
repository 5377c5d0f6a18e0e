"""
Column values as the Default family of OMS formats writes them (reference §3.1; rules in docs/formats.md).

`renderer_for(column)` picks a column's renderer once from its type. `render(value)` gives what `orjson.dumps`
writes (`int`, `float`, `str`, or `orjson.Fragment` for an exact DECIMAL); NULL is JSON null, left to callers.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.values_text import (
    _BYTES,
    Render,
    _date,
    _datetime,
    _json,
    _temporal,
    _text,
    _time,
    _timestamp,
    _utf8,
    decimal_text,
    json_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.models.schema import Column

__all__ = ["ValueRenderer", "bytes_renderer", "column_kind", "renderer_for", "text_of"]  # fmt: skip

_F32 = struct.Struct("<f")
_F32_NORMAL = 2.0**-126  # below it single precision has fewer digits (subnormal)


@dataclass(frozen=True, slots=True)
class ValueRenderer:
    """
    How the values of one column are written: chosen once per column, applied to every non-NULL value.

    :param kind: the rule (`integer`, `decimal`, `float`, `double`, `text`, `enum`, `set`, `binary`, `bit`,
        `date`, `time`, `datetime`, `timestamp`, `json`, `other`)
    :param render: non-NULL source value -> JSON-ready value
    :param text: non-NULL source value -> the same value as text (`record_primary_value`, Kafka key)
    :param passthrough: the readers' usual type for this column (int, float, str, date) is already rendered:
        a serializer may skip `render` and call it only when the JSON encoder rejects a value
    """

    kind: str
    render: Render
    text: Callable[[Any], str]
    passthrough: bool = False


def text_of(rendered: Any) -> str:
    """A rendered value as text: strings as they are, numbers as their JSON text, NULL as the empty string."""
    if type(rendered) is str:
        return rendered
    if rendered is None:
        return ""
    return str(rendered) if type(rendered) is int else orjson.dumps(rendered).decode()


def _float32(value: Any) -> float:
    """FLOAT: the shortest decimal that reads back as the same single-precision value."""
    packed = _F32.pack(float(value))
    single = _F32.unpack(packed)[0]
    for digits in range(6 if abs(single) >= _F32_NORMAL or not single else 1, 9):
        shorter = float(f"{single:.{digits}g}")
        if _F32.pack(shorter) == packed:
            return shorter
    return float(f"{single:.9g}")


def _base64(data: bytes) -> str:
    return binascii.b2a_base64(data)[:-1].decode("ascii")


def _binary(width: int | None, encode: Callable[[bytes], str]) -> Render:
    """`encode` of the bytes; BINARY(n) padded with 0x00 to n bytes as SELECT gives it (binlog: unpadded)."""

    def render(value: Any) -> str:
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        elif not isinstance(value, _BYTES):
            raise TypeError(f"expected bytes, got {type(value).__name__}")  # never bytes(5) for an int
        data = bytes(value)
        return encode(data.ljust(width, b"\x00") if width and len(data) < width else data)

    return render


def _bit(bits: int, encode: Callable[[bytes], str]) -> Render:
    """BIT(m): `encode` of the value as ceil(m/8) big-endian bytes; takes bytes, an int or a '0101' string."""
    width = max(1, (bits + 7) // 8)

    def render(value: Any) -> str:
        if isinstance(value, str):
            value = int(value or "0", 2)
        if isinstance(value, int):
            return encode(value.to_bytes(width, "big"))
        return encode(bytes(value).rjust(width, b"\x00"))

    return render


def bytes_renderer(column: Column, encode: Callable[[bytes], str]) -> Render:
    """A binary or BIT column's values as bytes, written with `encode` (Base64 here, Base16 in Debezium)."""
    if column_kind(column) == "bit":
        width = column.column_type.partition("(")[2].partition(")")[0]
        return _bit(column.precision or (int(width) if width.isdigit() else 1), encode)
    return _binary(column.length if column.data_type.lower() == "binary" else None, encode)


def _set(members: tuple[str, ...]) -> Render:
    """SET: text as it is; a Python set (binlog) joined with ',' in the members' definition order."""
    order = {member: index for index, member in enumerate(members)}

    def render(value: Any) -> str:
        if isinstance(value, set | frozenset | list | tuple):
            names = [_utf8(member) for member in value]
            return ",".join(sorted(names, key=lambda member: (order.get(member, len(order)), member)))
        return _utf8(value)

    return render


def _other(value: Any) -> Any:
    """A type without a rule (VECTOR, types yet unknown): chosen from the Python type of the value."""
    if type(value) in (str, int, float):
        return value
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value))
    if isinstance(value, _BYTES):
        return _base64(bytes(value))
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, set | frozenset):
        return ",".join(sorted(map(_utf8, value)))
    if isinstance(value, date | time | timedelta):
        return _temporal(value)
    return json_text(value) if isinstance(value, dict | list) else str(value)


def _decimal(value: Any) -> orjson.Fragment:
    """DECIMAL: its digits as a JSON number, exactly as the server gave them (`decimal_text`)."""
    return orjson.Fragment(decimal_text(value))


_SIMPLE: dict[str, Render] = {
    "integer": lambda value: value if type(value) is int else int(value),
    "double": lambda value: value if type(value) is float else float(value),
    "decimal": _decimal, "float": _float32, "date": _date,
    "time": _time, "datetime": _datetime, "timestamp": _timestamp, "json": _json,
}  # fmt: skip
# Renderers that compiled image renderers write inline: the common Python type in one expression, anything
# else through the renderer itself (`{v}`: the value, `{r}`: the renderer; names from INLINE_NAMES). Saves a
# call per value where rows are rendered by the hundred thousand; same text (tests/unit/engine/test_values.py).
INLINE_RENDER: dict[Render, str] = {
    _datetime: '(t.rstrip("0") if {v}.microsecond else t) if {v}.__class__ is DATETIME and {v}.tzinfo is None '
    'and (t := {v}.isoformat(" ")) else {r}({v})',
    _decimal: 'FRAGMENT(t) if {v}.__class__ is DECIMAL and {v}.is_finite() and "E" not in (t := str({v})) '
    "else {r}({v})",
}
INLINE_NAMES = {"DATETIME": datetime, "DECIMAL": Decimal, "FRAGMENT": orjson.Fragment}
_PASSTHROUGH = frozenset(("integer", "double", "text", "enum", "set", "date"))
_KINDS = {
    **dict.fromkeys("tinyint smallint mediumint int integer bigint year bool boolean".split(), "integer"),
    **dict.fromkeys("decimal numeric dec fixed".split(), "decimal"),
    **dict.fromkeys(("double", "real", "double precision"), "double"),
    **dict.fromkeys("char varchar tinytext text mediumtext longtext nchar nvarchar".split(), "text"),
    **dict.fromkeys("binary varbinary tinyblob blob mediumblob longblob geometry point".split(), "binary"),
    **dict.fromkeys("linestring polygon multipoint multilinestring multipolygon".split(), "binary"),
    **dict.fromkeys(("geometrycollection", "geomcollection"), "binary"),
    **{kind: kind for kind in "float enum set bit date time datetime timestamp json".split()},
}  # fmt: skip


def column_kind(column: Column) -> str:
    """The rendering rule of a column's type; `other` for a type without one."""
    kind = _KINDS.get(column.data_type.lower(), "other")
    return "binary" if kind == "text" and (column.charset or "").lower() == "binary" else kind


def _parametrized(kind: str, column: Column) -> Render:
    """The renderer of a kind that depends on the column: character set, members, width."""
    if kind in ("text", "enum"):
        return _text(column.charset)
    if kind == "set":
        return _set(column.enum_values)
    return bytes_renderer(column, _base64)  # binary, bit


def renderer_for(column: Column) -> ValueRenderer:
    """The renderer of one column, chosen once from its type."""
    kind = column_kind(column)
    if kind == "other":
        text = lambda v: decimal_text(v) if isinstance(v, Decimal) else text_of(_other(v))  # noqa: E731
        return ValueRenderer(kind, _other, text)
    if kind in _SIMPLE:
        render = _SIMPLE[kind]
        if kind == "decimal":
            text = decimal_text
        elif kind == "integer":  # the common key type: str() of an int is text_of's answer, without the calls
            text = lambda value: str(value) if type(value) is int else text_of(render(value))  # noqa: E731
        else:
            text = lambda value: text_of(render(value))  # noqa: E731
        return ValueRenderer(kind, render, text, kind in _PASSTHROUGH)
    render = _parametrized(kind, column)
    return ValueRenderer(kind, render, render, kind in _PASSTHROUGH)
