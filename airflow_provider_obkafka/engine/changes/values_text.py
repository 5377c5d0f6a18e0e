"""
Column values as text: character-set decoding, DECIMAL digits, temporal values and JSON documents.

The text rules of the Default family of OMS formats (reference §3.1; docs/formats.md), split from
`engine.changes.values`, which picks a column's renderer.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["Render", "decimal_text", "json_text"]

Render = Callable[[Any], Any]
_EPOCH = datetime(1970, 1, 1)
_ZERO_TIMESTAMP = "0000-00-00 00:00:00"
_MICROSECOND = timedelta(microseconds=1)

_BYTES = (bytes, bytearray, memoryview)
# MySQL character set -> Python codec where the names differ; others are looked up as they are, else UTF-8.
_CODECS = {
    "utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "latin1": "cp1252", "ucs2": "utf-16-be",
    "utf16": "utf-16-be", "utf16le": "utf-16-le", "utf32": "utf-32-be", "sjis": "shift_jis", "ujis": "euc_jp",
    "eucjpms": "euc_jp", "euckr": "euc_kr", "koi8r": "koi8_r", "latin2": "iso8859_2", "greek": "iso8859_7",
}  # fmt: skip


def decimal_text(value: Any) -> str:
    """An exact number's digits as the server gave them: trailing zeros kept, never an exponent."""
    if type(value) is int:
        return str(value)
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value).strip())
        except ArithmeticError:  # decimal.InvalidOperation
            raise ValueError(f"{value!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"DECIMAL value {value} is not a finite number")
    digits = str(value)
    return digits if "E" not in digits else format(value, "f")


def _text(charset: str | None) -> Render:
    """Strings as they are; bytes decoded with the column's character set (undecodable bytes -> U+FFFD)."""
    name = (charset or "utf8mb4").lower()
    try:
        codec = codecs.lookup(_CODECS.get(name, name)).name
    except LookupError:
        codec = "utf-8"

    def render(value: Any) -> str:
        if type(value) is str:
            return value
        return bytes(value).decode(codec, "replace") if isinstance(value, _BYTES) else str(value)

    return render


_utf8: Callable[[Any], str] = _text(None)


def _fraction(micros: int) -> str:
    return f".{micros:06d}".rstrip("0") if micros else ""


def _date(value: Any) -> str:
    """`YYYY-MM-DD`; text (an invalid or zero date as pymysql returns it) as it is."""
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, date) else _utf8(value)


def _time(value: Any) -> str:
    """`[-]HH:MM:SS[.ffffff]`: hours may exceed 24 (up to 838) and the value may be negative."""
    if isinstance(value, timedelta):
        total = value // _MICROSECOND
        sign, total = ("-", -total) if total < 0 else ("", total)
        seconds, micros = divmod(total, 1_000_000)
        minutes, second = divmod(seconds, 60)
        hours, minute = divmod(minutes, 60)
        return f"{sign}{hours:02d}:{minute:02d}:{second:02d}{_fraction(micros)}"
    if isinstance(value, time):
        return value.replace(microsecond=0, tzinfo=None).isoformat() + _fraction(value.microsecond)
    return _utf8(value)


def _datetime(value: Any) -> str:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]`, no zone (an aware value keeps its wall-clock time); text as it is."""
    if isinstance(value, datetime):
        text = value.isoformat(" ") if value.tzinfo is None else value.replace(tzinfo=None).isoformat(" ")
        return text.rstrip("0") if value.microsecond else text
    return f"{value.isoformat()} 00:00:00" if isinstance(value, date) else _utf8(value)


def _timestamp(value: Any) -> str:
    """`<epoch seconds>[.ffffff]` text; a naive datetime is UTC (the reader's session runs at +00:00)."""
    if not isinstance(value, datetime):
        return _ZERO_TIMESTAMP  # pymysql returns the server's text for the zero or an invalid value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    delta = value - _EPOCH
    seconds, micros = delta.days * 86400 + delta.seconds, delta.microseconds
    if not micros:
        return str(seconds) if seconds else _ZERO_TIMESTAMP  # epoch 0 is how binlog carries the zero value
    if seconds < 0:  # before 1970: not a MySQL TIMESTAMP, but written right all the same
        return f"-{-seconds - 1}.{1_000_000 - micros:06d}".rstrip("0")
    return f"{seconds}.{micros:06d}".rstrip("0")


def _temporal(value: date | time | timedelta) -> str:
    if isinstance(value, datetime):
        return _datetime(value)
    return _date(value) if isinstance(value, date) else _time(value)


def json_text(value: Any) -> str:
    """A decoded JSON document (binlog: dict/list, bytes for strings) printed as the server prints it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json_text(_utf8(k))}: {json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(json_text, value)) + "]"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, _BYTES):
        value = _utf8(value)
    elif isinstance(value, date | time | timedelta):
        value = _temporal(value)
    elif value is not None and not isinstance(value, str | int | float):
        value = str(value)
    return orjson.dumps(value).decode()


def _json(value: Any) -> str:
    """JSON column: a JSON string holding the document's text (pymysql's text as it is)."""
    return value if type(value) is str else _utf8(value) if isinstance(value, _BYTES) else json_text(value)
