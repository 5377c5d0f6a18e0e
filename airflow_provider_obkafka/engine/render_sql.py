"""
Default full-sync messages rendered by the source server ("server rendering").

pymysql decodes rows in pure Python, one value at a time, and the Python path then renders every value and
encodes a dict per row: about 29,000 rows/s on one core. Here the chunk SELECT returns, per row, the row
key's text and the `postStruct` JSON as bytes, built by SQL expressions that write exactly what
`engine.values` and orjson write; Python only joins them with the constant bytes of the message. The server
does that work in its own process, on another core.

Per column kind (`values.column_kind`), the SQL text of a non-NULL value (NULL is JSON `null`, and `""` in a
key):

| kind | JSON in `postStruct` |
|---|---|
| integer (YEAR as `col + 0`), decimal | `CAST(col AS CHAR)`: the digits the server sends |
| date; time, datetime (fraction's trailing zeros cut) | `"text"` |
| timestamp | `"<UNIX_TIMESTAMP, trailing zeros cut>"`, 0 as `0000-00-00 00:00:00` |
| binary (BINARY(n) padded with 0x00), bit (ceil(m/8) bytes) | `"<TO_BASE64 without line breaks>"` |
| text, enum, set, json | `JSON_QUOTE(CONVERT(col USING utf8mb4))`, fixed up to orjson's escapes |

FLOAT and DOUBLE (the server's shortest text is not Python's), geometry and types without a rule are read
raw and rendered in Python between server segments. Strings too, when the server's JSON_QUOTE cannot be
made to write orjson's escapes (`probe_json_quote` checks every ASCII character and a sample of others).
When a key or shard column is one of those, the table is not rendered on the server at all: `plan` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.change import KEY_SEPARATOR
from airflow_provider_obkafka.engine.sql import quote_ident
from airflow_provider_obkafka.engine.values import column_kind, renderer_for

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.change import TableContext
    from airflow_provider_obkafka.models.schema import Column

__all__ = ["QuoteFix", "ServerRenderPlan", "json_quote_sql", "plan", "probe_json_quote", "sql_text"]

# Pairs (the server's escape, orjson's escape) that JSON_QUOTE's output gets replaced with; () when none.
QuoteFix = tuple[tuple[str, str], ...]
Encode = Callable[[tuple[Any, ...]], tuple[bytes | None, bytes]]

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
_KEY_MARK, _POST_MARK = b"\x00obkafka-key\x00", b"\x00obkafka-post\x00"


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


@dataclass(frozen=True)
class ServerRenderPlan:
    """
    The SELECT list and row encoder of server rendering for one table.

    :param expressions: the SELECT list (names quoted, `%` doubled: for a statement with parameters)
    :param encode: a row of that SELECT -> (Kafka key, message value), the same bytes as the Python path
    :param python_columns: the selected columns rendered in Python (FLOAT, DOUBLE, ...)
    """

    expressions: tuple[str, ...]
    encode: Encode
    python_columns: tuple[str, ...]


def _name(column: str) -> str:
    return quote_ident(column).replace("%", "%%")


def _key_sql(ctx: TableContext, names: Sequence[str]) -> str | None:
    """The key text of `names` (NULL parts empty, joined with U+0001) as bytes; None when not renderable."""
    columns = [ctx.schema.column(name) for name in names]
    parts = [text_sql(column, _name(column.name)) for column in columns]
    if any(part is None for part in parts):
        return None
    parts = [
        f"IFNULL({part}, '')" if column.nullable else part
        for column, part in zip(columns, parts, strict=True)
    ]
    joined = parts[0] if len(parts) == 1 else f"CONCAT({f', {sql_text(KEY_SEPARATOR)}, '.join(parts)})"
    return f"CAST({joined} AS BINARY)"


def _frame(ctx: TableContext) -> tuple[bytes, bytes, bytes]:
    """The Default message's constant bytes around the record_primary_value text and the postStruct."""
    from airflow_provider_obkafka.engine.serializers.default import _encode, _template

    meta = dict(_template(ctx))
    meta["record_primary_value"] = orjson.Fragment(_KEY_MARK) if ctx.key_columns else None
    frame = _encode(meta, None, "ROW", (), lambda _image: orjson.Fragment(_POST_MARK))
    head, _, rest = frame.partition(_KEY_MARK) if ctx.key_columns else (b"", b"", frame)
    mid, _, tail = rest.partition(_POST_MARK)
    return head, mid, tail


def plan(ctx: TableContext, fix: QuoteFix | None) -> tuple[ServerRenderPlan | None, str]:
    """
    Server rendering of a table's Default full-sync messages, or None and the reason it cannot be used.

    :param ctx: the table's context (selected, key and shard columns)
    :param fix: what `probe_json_quote` found on the source server
    """
    key_sql = _key_sql(ctx, ctx.key_columns)
    part_sql = key_sql if ctx.partition_columns == ctx.key_columns else _key_sql(ctx, ctx.partition_columns)
    if key_sql is None or part_sql is None:
        names = [
            n
            for n in (*ctx.key_columns, *ctx.partition_columns)
            if text_sql(ctx.schema.column(n), "c") is None
        ]
        return (
            None,
            f"key or shard column(s) {', '.join(dict.fromkeys(names))} cannot be rendered on the server",
        )
    expressions: list[str] = []
    if ctx.key_columns:
        expressions.append(key_sql)
    if ctx.partition_columns and ctx.partition_columns != ctx.key_columns:
        expressions.append(part_sql)
    pieces: list[Any] = []  # str: SQL JSON text; bytes: constant; int: index of a raw column in the row
    python_columns, renders = [], {}
    for position, name in enumerate(ctx.columns):
        column = ctx.schema.column(name)
        pieces.append(("{" if position == 0 else ",").encode() + orjson.dumps(name) + b":")
        value = json_sql(column, _name(name), fix)
        if value is None:
            python_columns.append(name)
            renders[len(pieces)] = renderer_for(column).render
            pieces.append(_name(name))
        else:
            pieces.append(value)
    pieces.append(b"}")
    return ServerRenderPlan(*_assemble(ctx, expressions, pieces, renders), tuple(python_columns)), ""


def _assemble(
    ctx: TableContext, expressions: list[str], pieces: list[Any], renders: dict[int, Callable[[Any], Any]]
) -> tuple[tuple[str, ...], Encode]:
    """Group the postStruct pieces into server columns and Python constants; compile the row encoder."""
    head, mid, tail = _frame(ctx)
    namespace: dict[str, Any] = {"dumps": orjson.dumps}
    parts: list[str] = []  # Python expressions of the value, in order
    run: list[Any] = []

    def constant(data: bytes) -> None:
        name = f"k{len(parts)}"
        namespace[name] = data
        parts.append(name)

    def flush() -> None:
        if any(isinstance(piece, str) for piece in run):
            texts = [sql_text(piece.decode()) if isinstance(piece, bytes) else piece for piece in run]
            parts.append(f"row[{len(expressions)}]")
            expressions.append(f"CAST(CONCAT({', '.join(texts)}) AS BINARY)")
        elif run:
            constant(b"".join(run))
        run.clear()

    plain_key = all(
        column_kind(ctx.schema.column(name)) in _PLAIN | {"integer", "decimal"} for name in ctx.key_columns
    )
    if ctx.key_columns:  # record_primary_value: the key text as a JSON string
        constant(head + (b'"' if plain_key else b""))
        many = len(ctx.key_columns) > 1
        if plain_key:
            parts.append("row[0].replace(b'\\x01', b'\\\\u0001')" if many else "row[0]")
        else:
            parts.append("dumps(row[0].decode())")
        constant((b'"' if plain_key else b"") + mid)
    else:
        constant(mid)
    for index, piece in enumerate(pieces):
        if index in renders:
            flush()
            namespace[f"r{index}"] = renders[index]
            value = f"v{index}"
            parts.append(
                f"(b'null' if ({value} := row[{len(expressions)}]) is None else dumps(r{index}({value})))"
            )
            expressions.append(piece)
        else:
            run.append(piece)
    flush()
    constant(tail)
    if not ctx.partition_columns:
        key = "None"
    else:
        key = "row[0]" if ctx.partition_columns == ctx.key_columns else f"row[{1 if ctx.key_columns else 0}]"
    source = f"def encode(row):\n    return {key}, b''.join(({', '.join(parts)},))\n"
    exec(compile(source, f"<server render {ctx.schema.ref}>", "exec"), namespace)
    return tuple(expressions), namespace["encode"]
