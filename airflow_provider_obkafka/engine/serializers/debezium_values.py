"""
Column values as OMS's Debezium method writes them (reference §3.2), with their Kafka Connect schema types.

Unlike the Default family: DECIMAL and BIGINT UNSIGNED are strings, bytes are upper-case hex (Base16), DATE is
days since 1970-01-01, TIME microseconds, DATETIME milliseconds (wall clock, no zone), TIMESTAMP an ISO-8601
UTC string ending in `Z`. Zero dates follow Debezium: NULL in a nullable column, else the epoch. Integers,
floating point, text, ENUM, SET and JSON are written as the Default family writes them.
Rules: docs/formats.md, section Debezium.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.values import bytes_renderer, column_kind, renderer_for
from airflow_provider_obkafka.engine.changes.values_text import decimal_text

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.changes.values_text import Render
    from airflow_provider_obkafka.models.schema import Column

__all__ = ["DebeziumValue", "debezium_value"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)
_BYTES = (bytes, bytearray, memoryview)
# Integer type -> (Connect type signed, UNSIGNED); BIGINT UNSIGNED is a string (reference §3.2, second row).
_INTEGERS = {
    "tinyint": ("int16", "int16"), "smallint": ("int16", "int32"), "mediumint": ("int32", "int32"),
    "int": ("int32", "int64"), "integer": ("int32", "int64"), "bigint": ("int64", "string"),
    "year": ("int32", "int32"),
}  # fmt: skip
_SPATIAL = frozenset(
    "geometry point linestring polygon multipoint multilinestring multipolygon geometrycollection "
    "geomcollection".split()
)


@dataclass(frozen=True, slots=True)
class DebeziumValue:
    """
    How one column's values are written in the Debezium method.

    :param render: non-NULL source value -> JSON-ready value (may be None: a zero date in a nullable column)
    :param schema_type: the Kafka Connect type in the optional `schema` section (`int32`, `string`, ...)
    :param name: the Debezium semantic type name (`io.debezium.time.Date`, ...), when there is one
    :param passthrough: the readers' usual Python type is already the output (see `ValueRenderer`)
    """

    render: Render
    schema_type: str
    name: str | None = None
    passthrough: bool = False


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, _BYTES) else str(value)


def _base16(data: bytes) -> str:
    """Upper-case hex, how Debezium writes binary strings and BIT values."""
    return data.hex().upper()


def _days(zero: int | None) -> Render:
    """DATE: days since 1970-01-01; a zero or invalid date (text) is `zero`."""

    def render(value: Any) -> int | None:
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return value.toordinal() - _EPOCH_DAY
        try:
            return date.fromisoformat(_text(value)).toordinal() - _EPOCH_DAY
        except ValueError:
            return zero

    return render


def _micros(value: Any) -> int:
    """TIME: microseconds since 00:00:00, negative for a negative TIME; hours may exceed 24."""
    if isinstance(value, timedelta):
        return value // _US
    if isinstance(value, time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    text = _text(value)
    clock, _, fraction = text.lstrip("-").partition(".")
    hours, minutes, seconds = clock.split(":")
    total = (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * 1_000_000 + int(f"{fraction:0<6}"[:6])
    return -total if text.startswith("-") else total


def _millis(zero: int | None) -> Render:
    """DATETIME: milliseconds since 1970-01-01 00:00:00 of the wall-clock value (floor); zero -> `zero`."""

    def render(value: Any) -> int | None:
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)
        elif isinstance(value, date):
            value = datetime(value.year, value.month, value.day)
        else:
            try:
                value = datetime.fromisoformat(_text(value))
            except ValueError:
                return zero
        millis: int = (value - _EPOCH) // _MS
        return millis

    return render


def _timestamp(zero: str | None) -> Render:
    """TIMESTAMP: `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` in UTC (naive = UTC); zero (text, epoch 0) -> `zero`."""

    def render(value: Any) -> str | None:
        if not isinstance(value, datetime):
            return zero
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if value == _EPOCH:  # how the binlog carries the zero TIMESTAMP
            return zero
        text: str = value.isoformat()
        return (text.rstrip("0") if value.microsecond else text) + "Z"

    return render


def _geometry(value: Any) -> dict[str, Any]:
    """Spatial value (4-byte little-endian SRID + WKB, as the server sends it) -> Debezium's {wkb, srid}."""
    data = bytes(value) if isinstance(value, _BYTES) else _text(value).encode("utf-8", "surrogateescape")
    return {"wkb": data[4:].hex().upper(), "srid": int.from_bytes(data[:4], "little")}


def _integer(column: Column) -> DebeziumValue:
    name = column.data_type.lower()
    if name in ("bool", "boolean"):
        return DebeziumValue(bool, "boolean")
    signed, unsigned = _INTEGERS.get(name, ("int64", "int64"))
    if column.unsigned and unsigned == "string":
        return DebeziumValue(lambda value: str(int(value)), "string")
    semantic = "io.debezium.time.Year" if name == "year" else None
    return DebeziumValue(renderer_for(column).render, unsigned if column.unsigned else signed, semantic, True)


def _temporal(kind: str, column: Column) -> DebeziumValue:
    nullable = column.nullable
    if kind == "date":
        return DebeziumValue(_days(None if nullable else 0), "int32", "io.debezium.time.Date")
    if kind == "time":
        return DebeziumValue(_micros, "int64", "io.debezium.time.MicroTime")
    if kind == "datetime":
        return DebeziumValue(_millis(None if nullable else 0), "int64", "io.debezium.time.Timestamp")
    zero = None if nullable else "1970-01-01T00:00:00Z"
    return DebeziumValue(_timestamp(zero), "string", "io.debezium.time.ZonedTimestamp")


def debezium_value(column: Column) -> DebeziumValue:
    """The Debezium rule of one column, chosen once from its type."""
    kind = column_kind(column)
    if column.data_type.lower() in _SPATIAL:
        return DebeziumValue(_geometry, "struct", "io.debezium.data.geometry.Geometry")
    if kind == "integer":
        return _integer(column)
    if kind in ("date", "time", "datetime", "timestamp"):
        return _temporal(kind, column)
    if kind == "decimal":
        return DebeziumValue(decimal_text, "string")
    if kind in ("binary", "bit"):  # the Default family's bytes (BINARY padding, BIT width), in Base16
        return DebeziumValue(bytes_renderer(column, _base16), "string")
    default = renderer_for(column)  # integers aside, the same values as the Default family
    semantic = {
        "enum": "io.debezium.data.Enum",
        "set": "io.debezium.data.EnumSet",
        "json": "io.debezium.data.Json",
    }
    schema_type = "float64" if kind in ("float", "double") else "string"
    return DebeziumValue(default.render, schema_type, semantic.get(kind), default.passthrough)
