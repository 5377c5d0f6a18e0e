"""
Default full-sync messages rendered by the source server ("server rendering").

pymysql decodes rows in pure Python, one value at a time, and the Python path then renders every value and
encodes a dict per row: about 29,000 rows/s on one core. Here the chunk SELECT returns, per row, the row
key's text and the `postStruct` JSON as bytes, built by SQL expressions that write exactly what
`engine.changes.values` and orjson write; Python only joins them with the constant bytes of the message. The server
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

The SQL per column (`text_sql`, `json_sql`, the JSON_QUOTE probe and fix-up) is in
`engine.snapshot.render_columns`; this module builds a table's SELECT list and row encoder from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import orjson

from airflow_provider_obkafka.engine.changes.change import KEY_SEPARATOR
from airflow_provider_obkafka.engine.changes.values import column_kind, renderer_for
from airflow_provider_obkafka.engine.snapshot.render_columns import (
    _PLAIN,
    QuoteFix,
    json_sql,
    sql_text,
    text_sql,
)
from airflow_provider_obkafka.engine.snapshot.sql import quote_ident

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.changes.change import TableContext

__all__ = ["ServerRenderPlan", "plan"]

Encode = Callable[[tuple[Any, ...]], tuple[bytes | None, bytes]]
_KEY_MARK, _POST_MARK = b"\x00obkafka-key\x00", b"\x00obkafka-post\x00"


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
    texts = cast("list[str]", parts)  # no None: checked above
    joined = texts[0] if len(texts) == 1 else f"CONCAT({f', {sql_text(KEY_SEPARATOR)}, '.join(texts)})"
    return f"CAST({joined} AS BINARY)"


def _frame(ctx: TableContext) -> tuple[bytes, bytes, bytes]:
    """The Default message's constant bytes around the record_primary_value text and the postStruct."""
    from airflow_provider_obkafka.engine.serializers.default import _encode
    from airflow_provider_obkafka.engine.serializers.default_metadata import metadata_template

    meta = dict(metadata_template(ctx))
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

    _record_key_parts(ctx, head, mid, parts, constant)
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
    return tuple(expressions), _compile_encoder(ctx, parts, namespace)


def _compile_encoder(ctx: TableContext, parts: list[str], namespace: dict[str, Any]) -> Encode:
    """The row encoder: `row -> (Kafka key, message)`, the message being `parts` joined."""
    key = _kafka_key_expression(ctx)
    source = f"def encode(row):\n    return {key}, b''.join(({', '.join(parts)},))\n"
    exec(compile(source, f"<server render {ctx.schema.ref}>", "exec"), namespace)
    return namespace["encode"]  # type: ignore[no-any-return]


def _record_key_parts(
    ctx: TableContext, head: bytes, mid: bytes, parts: list[str], constant: Callable[[bytes], None]
) -> None:
    """The encoder's parts up to `postStruct`: the frame's head, the key text as a JSON string, `mid`."""
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


def _kafka_key_expression(ctx: TableContext) -> str:
    """The encoder's Kafka key: the row key's text, the shard columns' text, or None."""
    if not ctx.partition_columns:
        key = "None"
    else:
        key = "row[0]" if ctx.partition_columns == ctx.key_columns else f"row[{1 if ctx.key_columns else 0}]"
    return key
