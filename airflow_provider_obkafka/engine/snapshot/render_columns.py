"""
The SQL of one column's value in server rendering (`engine.snapshot.render`): its key text (`text_sql`), its JSON
text in `postStruct` (`json_sql`), and the JSON_QUOTE fix-up that makes the server write orjson's escapes
(`probe_json_quote` finds what this server needs, `json_quote_sql` applies it). `sql_text` writes the
string literals all of them use.

Each expression writes exactly what `engine.changes.values` and orjson write for a non-NULL value, or is None when
the server cannot (the value is then rendered in Python); the rules per column kind are in `render_sql`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.values import column_kind

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.schema import Column

__all__ = ["QuoteFix", "json_quote_sql", "json_sql", "probe_json_quote", "sql_text", "text_sql"]

# Pairs (the server's escape, orjson's escape) that JSON_QUOTE's output gets replaced with; () when none.
QuoteFix = tuple[tuple[str, str], ...]

_SAFE_LITERAL = frozenset(
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;{}[]()"#@!?+=*/'
)
_BYTE_TYPES = frozenset(
    "binary varbinary tinyblob blob mediumblob longblob char varchar tinytext text".split()
)
_PLAIN = frozenset(("date", "time", "datetime", "timestamp", "binary", "bit"))  # text with nothing to escape
_ESCAPED = frozenset(("text", "enum", "set", "json"))
_NUL = "CHAR(0 USING utf8mb4)"  # JSON_QUOTE escapes U+0000, so its output never holds one: a safe placeholder
_PROBE_SAMPLE = "\x80\x9f\xa0\xad\xe9\u0100\u2028\u2029\u4e2d\ufeff\ufffd\U0001f600\U0010ffff"
_PROBE_CHARS = tuple(chr(code) for code in range(128)) + tuple(_PROBE_SAMPLE)


def sql_text(text: str) -> str:
    """
    A utf8mb4 SQL string literal of `text` that means the same under any sql_mode: plain quotes for simple
    ASCII, else `CONVERT(X'..' USING utf8mb4)`. Never holds a `%`, a backslash or a quote inside.
    """
    if all(char in _SAFE_LITERAL for char in text):
        return f"'{text}'"
    return f"CONVERT(X'{text.encode('utf-8').hex().upper()}' USING utf8mb4)"


def json_quote_sql(expr: str, fix: QuoteFix) -> str:
    """`JSON_QUOTE(expr)`, with each server escape of `fix` replaced by orjson's (`\\\\` kept aside first)."""
    quoted = f"CONVERT(JSON_QUOTE({expr}) USING utf8mb4)"  # OceanBase: a VARCHAR, not a (slow) LOB
    if not fix:
        return quoted
    backslashes = sql_text("\\\\")
    quoted = f"REPLACE({quoted}, {backslashes}, {_NUL})"
    for server, wanted in fix:
        quoted = f"REPLACE({quoted}, {sql_text(server)}, {sql_text(wanted)})"
    return f"REPLACE({quoted}, {_NUL}, {backslashes})"


def probe_json_quote(cursor: Any) -> QuoteFix | None:
    """
    How this server's JSON_QUOTE differs from orjson, checked on every ASCII character and a sample of
    others: () when it writes the same, the escapes to replace when only some `\\` escapes differ (MariaDB
    writes `\\u001F`, orjson `\\u001f`), None when it cannot be made identical (strings then go through
    Python).

    :param cursor: a DB-API cursor of a utf8mb4 session on the source server
    """
    cursor.execute("SELECT " + ", ".join(f"JSON_QUOTE({sql_text(char)})" for char in _PROBE_CHARS))
    found = cursor.fetchone()
    fix: list[tuple[str, str]] = []
    for char, server in zip(_PROBE_CHARS, found, strict=True):
        server = server.decode() if isinstance(server, bytes) else server
        wanted = orjson.dumps(char).decode()
        if server == wanted:
            continue
        inner, want_inner = server[1:-1], wanted[1:-1]
        # Only ASCII escapes are fixed: all 128 are probed, while a server escaping one non-ASCII
        # character likely escapes others that no finite list covers.
        if not (
            char.isascii() and char != "\\" and server[:1] == server[-1:] == '"' and inner.startswith("\\")
        ):
            return None
        fix.append((inner, want_inner))
    whole = "".join(_PROBE_CHARS) + '\\u000B\\\\u001F"x'
    cursor.execute(f"SELECT {json_quote_sql(sql_text(whole), tuple(fix))}")
    got = cursor.fetchone()[0]
    got = got.decode() if isinstance(got, bytes) else got
    return tuple(fix) if got == orjson.dumps(whole).decode() else None


def _trimmed(text: str, digits: int | None) -> str:
    """
    A temporal text's fraction without trailing zeros (and without a bare dot), as the readers cut it: the
    server writes exactly `digits` fraction digits (TIME(n), DATETIME(n), TIMESTAMP(n)), so the cut needs
    no test when the schema tells them; an unknown count costs a LOCATE per value (several times slower).
    """
    cut = f"TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text}))"
    if digits is None:
        return f"IF(LOCATE('.', {text}) > 0, {cut}, {text})"
    return cut if digits > 0 else text


def _epoch(name: str, digits: int | None) -> str:
    """
    A TIMESTAMP as `<epoch seconds>[.fraction without trailing zeros]`; the zero value as its text.

    The session must run at +00:00 (the Python path reads TIMESTAMPs as UTC wall-clock time too): then the
    distance from 1970-01-01 00:00:00 is the epoch, and TIMESTAMPDIFF is several times cheaper than
    UNIX_TIMESTAMP on OceanBase. `%f` always writes six digits, so the trim needs no test. `= 0` is true
    only for the zero value (epoch 0 itself is below the smallest TIMESTAMP).
    """
    seconds = f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {name})"
    text = seconds if digits == 0 else _trimmed(f"CONCAT({seconds}, DATE_FORMAT({name}, '.%%f'))", 6)
    return f"IF({name} = 0, '0000-00-00 00:00:00', {text})"


def _utf8mb4(column: Column, name: str) -> str:
    """The column's text in utf8mb4, converted only when stored in another character set."""
    charset = (column.charset or "").lower()
    return name if charset in ("utf8mb4", "") else f"CONVERT({name} USING utf8mb4)"


def _bit_width(column: Column) -> int:
    width = column.column_type.partition("(")[2].partition(")")[0]
    bits = column.precision or (int(width) if width.isdigit() else 1)
    return max(1, (bits + 7) // 8)


def text_sql(column: Column, name: str) -> str | None:
    """
    SQL giving what `renderer_for(column).text` gives for a non-NULL value (the key text), or None when
    the server cannot write it identically.

    :param column: the column
    :param name: the column's name as SQL (quoted, `%` doubled when the statement has parameters)
    """
    kind = column_kind(column)
    data_type = column.data_type.lower()
    if kind == "integer":
        return f"CAST({name} + 0 AS CHAR)" if data_type == "year" else f"CAST({name} AS CHAR)"
    if kind in ("decimal", "date"):
        return f"CAST({name} AS CHAR)"
    if kind in ("time", "datetime"):
        return _trimmed(f"CAST({name} AS CHAR)", column.fractional_seconds)
    if kind == "timestamp":
        return _epoch(name, column.fractional_seconds)
    if kind == "text":
        return _utf8mb4(column, name)
    if kind in ("enum", "set"):  # OceanBase's JSON_QUOTE takes them only as strings
        return f"CONVERT({name} USING utf8mb4)"
    if kind == "json":
        return f"CONVERT(CAST({name} AS CHAR) USING utf8mb4)"
    if kind == "bit":
        width = _bit_width(column)
        return f"TO_BASE64(UNHEX(LPAD(HEX({name}), {2 * width}, '0')))"
    if kind == "binary" and data_type in _BYTE_TYPES:
        padded = (
            f"RPAD({name}, {int(column.length)}, X'00')" if data_type == "binary" and column.length else name
        )
        return f"REPLACE(TO_BASE64({padded}), CHAR(10 USING utf8mb4), '')"
    return None  # float, double (Python's shortest text), geometry, types without a rule


def json_sql(column: Column, name: str, fix: QuoteFix | None) -> str | None:
    """SQL giving the JSON text of a column's value (`null` for NULL), or None to render it in Python."""
    text = text_sql(column, name)
    kind = column_kind(column)
    if text is None or (kind in _ESCAPED and fix is None):
        return None
    if kind in _PLAIN:
        text = f"CONCAT('\"', {text}, '\"')"
    elif kind in _ESCAPED:
        text = json_quote_sql(text, fix or ())
    return f"IF({name} IS NULL, 'null', {text})" if column.nullable else text
