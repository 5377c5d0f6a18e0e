"""
The OMS "Debezium" serialization method (reference §9): the Debezium MySQL connector's change-event envelope
`{"payload": {op, before, source, after, ts_ms}}` with OMS's documented differences: `source` holds only
`connector` (`OB_MYSQL`), `pos` (`file@offset`), `name` (`OMS`), `version`, `ts_ms`, `db` (no tenant) and
`table`; `op` is `c` for full-sync rows as for inserts; an image a change does not have is left out; values
follow reference §3.2 (`debezium_values`); the Kafka Connect `schema` section is left out unless asked for.
Rules and choices: docs/formats.md, section Debezium.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from airflow_provider_obkafka.engine.changes.change import RecordType
from airflow_provider_obkafka.engine.changes.compile import _image_renderer
from airflow_provider_obkafka.engine.serializers.debezium_values import DebeziumValue, debezium_value
from airflow_provider_obkafka.engine.serializers.default import change_images

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.changes.change import Image, RowChange, TableContext
    from airflow_provider_obkafka.engine.serializers import SortSequence

__all__ = ["DebeziumSerializer"]

_OPS = {
    RecordType.ROW: "c", RecordType.INSERT: "c", RecordType.UPDATE: "u", RecordType.DELETE: "d",
    RecordType.HEARTBEAT: "HEARTBEAT",
}  # fmt: skip
_HEARTBEAT = RecordType.HEARTBEAT
_SOURCE_FIELDS = (
    ("version", "string", False), ("connector", "string", False), ("name", "string", False),
    ("ts_ms", "int64", False), ("db", "string", False), ("table", "string", False),
    ("server_id", "int64", True), ("pos", "string", False),
)  # fmt: skip
_TRANSACTION_FIELDS = (
    ("id", "string", False),
    ("total_order", "int64", False),
    ("data_collection_order", "int64", False),
)


class _Table(NamedTuple):
    """A table's compiled renderers and key plan, built once per table."""

    values: tuple[DebeziumValue, ...]
    render_fast: Callable[[Image], dict[str, Any]]
    render_full: Callable[[Image], dict[str, Any]]
    key_plan: tuple[tuple[str, int, DebeziumValue], ...]
    key_parts: tuple[tuple[bytes, int, Callable[[Any], Any]], ...]


def _table(ctx: TableContext) -> _Table:
    found: _Table | None = ctx.cache.get("debezium")
    if found is None:
        values = tuple(debezium_value(ctx.schema.column(name)) for name in ctx.columns)
        ref = str(ctx.schema.ref)
        fast = [None if value.passthrough else value.render for value in values]
        plan = tuple(
            (name, ctx.image_columns.index(name), debezium_value(ctx.schema.column(name)))
            for name in ctx.partition_columns
        )
        parts = tuple((orjson.dumps(name) + b":", i, value.render) for name, i, value in plan)
        found = ctx.cache["debezium"] = _Table(
            values, _image_renderer(ref, ctx.image_columns, ctx.columns, fast),
            _image_renderer(ref, ctx.image_columns, ctx.columns, [value.render for value in values]), plan,
            parts,
        )  # fmt: skip
    return found


def _render_named(ctx: TableContext, table: _Table, image: Image) -> dict[str, Any]:
    """Every value through its renderer; a value none accepts raises ValueError naming the column."""
    try:
        return table.render_full(image)
    except (TypeError, ValueError, AttributeError) as exc:
        for name, value in zip(ctx.columns, ctx.select(image), strict=True):
            try:
                if value is not None:
                    table.values[ctx.columns.index(name)].render(value)
            except (TypeError, ValueError, AttributeError):
                raise ValueError(
                    f"table {ctx.schema.ref}: column {name!r} cannot take {value!r}: {exc}"
                ) from exc
        raise


def _field(name: str, schema_type: str, optional: bool, semantic: str | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {"field": name, "optional": optional, "type": schema_type}
    if semantic:
        field["name"] = semantic
    if schema_type == "struct" and semantic == "io.debezium.data.geometry.Geometry":
        field["fields"] = [_field("wkb", "string", False), _field("srid", "int32", True)]
    return field


def _struct(name: str, fields: list[dict[str, Any]], optional: bool) -> dict[str, Any]:
    return {"field": name, "optional": optional, "type": "struct", "fields": fields}


def _columns_schema(
    ctx: TableContext, names: tuple[str, ...], values: tuple[DebeziumValue, ...]
) -> list[Any]:
    return [
        _field(name, value.schema_type, ctx.schema.column(name).nullable, value.name)
        for name, value in zip(names, values, strict=True)
    ]


def _value_schema(ctx: TableContext, transaction: bool) -> orjson.Fragment:
    """The Kafka Connect schema of the table's values (V4.2.x `schema`), JSON-encoded once per table."""
    cache_key = f"debezium-schema-{transaction}"
    found: orjson.Fragment | None = ctx.cache.get(cache_key)
    if found is None:
        columns = _columns_schema(ctx, ctx.columns, _table(ctx).values)
        source = [_field(*spec) for spec in _SOURCE_FIELDS]
        if ctx.business_system_id is not None:
            source.append(_field("businessSystemId", "string", True))
        fields = [
            _struct("before", columns, True), _struct("after", columns, True),
            _struct("source", source, False), _field("op", "string", False), _field("ts_ms", "int64", False),
        ]  # fmt: skip
        if transaction:
            fields.append(_struct("transaction", [_field(*spec) for spec in _TRANSACTION_FIELDS], True))
        found = ctx.cache[cache_key] = orjson.Fragment(
            orjson.dumps({"type": "struct", "optional": False, "fields": fields})
        )
    return found


def _key_schema(ctx: TableContext, table: _Table) -> orjson.Fragment:
    found: orjson.Fragment | None = ctx.cache.get("debezium-key-schema")
    if found is None:
        names = tuple(name for name, _, _ in table.key_plan)
        columns = _columns_schema(ctx, names, tuple(value for _, _, value in table.key_plan))
        schema = {"type": "struct", "optional": False, "fields": columns}
        found = ctx.cache["debezium-key-schema"] = orjson.Fragment(orjson.dumps(schema))
    return found


def _pos(change: RowChange) -> str:
    """`source.pos`: the transaction's log position as `file@offset`; empty for a full-sync row."""
    if change.record_type is RecordType.ROW or not change.checkpoint:
        return ""
    file, colon, offset = change.checkpoint.rpartition(":")
    return f"{file}@{offset}" if colon else change.checkpoint


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DebeziumSerializer:
    """
    OMS Debezium: one Debezium change event per change.

    :param intra_transaction_sequence: add Debezium's `transaction` block (`id`, `total_order`,
        `data_collection_order`) to incremental changes, as Debezium does with transaction metadata on
    :param include_schema: write the Kafka Connect `schema` section beside `payload`, in keys and values
        (OMS: off by default)
    :param sequence: accepted for a uniform factory signature; Debezium has no sort sequence field
    :param clock: the current time in epoch milliseconds, for `ts_ms` (tests pass a fixed one)
    """

    name = "Debezium"

    def __init__(
        self,
        *,
        intra_transaction_sequence: bool = False,
        include_schema: bool = False,
        sequence: SortSequence | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        del sequence  # Debezium has no sort sequence field
        self.intra_transaction_sequence = intra_transaction_sequence
        self.include_schema = include_schema
        self._clock = clock or _now_ms
        self._transaction: tuple[str, int, dict[tuple[str, str], int], dict[str, Any]] | None = None

    def key(self, change: RowChange, ctx: TableContext) -> bytes | None:
        """`{"payload": {<partition column>: value}}` (shard columns, else the row key); None without them."""
        image = change.after if change.after is not None else change.before
        parts = _table(ctx).key_parts
        if not parts or image is None or change.record_type is _HEARTBEAT:
            return None
        dumps = orjson.dumps  # the payload object written piece by piece: one small dumps per column
        payload = b",".join([name + dumps(None if (v := image[i]) is None else r(v)) for name, i, r in parts])
        if self.include_schema:
            schema = _key_schema(ctx, _table(ctx))
            return b'{"schema":' + dumps(schema) + b',"payload":{' + payload + b"}}"
        return b'{"payload":{' + payload + b"}}"

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The Debezium change event of a change."""
        before, after = change_images(change)  # the images Default shows, the same errors
        table = _table(ctx)
        transaction = self._transaction_block(change) if self.intra_transaction_sequence else None
        try:
            return self._encode(change, ctx, before, after, table.render_fast, transaction)
        except (TypeError, ValueError):  # an unusual value type: render every value (names a failing column)
            return self._encode(
                change, ctx, before, after, lambda i: _render_named(ctx, table, i), transaction
            )

    def _encode(
        self, change: RowChange, ctx: TableContext, before: Image | None, after: Image | None,
        render: Callable[[Image], dict[str, Any]], transaction: dict[str, Any] | None,
    ) -> bytes:  # fmt: skip
        now = self._clock()
        commit = change.commit_ts_us
        source = {
            "connector": ctx.db_type.value, "pos": _pos(change), "name": "OMS", "version": "",
            "ts_ms": now if commit is None else commit // 1000, "db": ctx.database, "table": ctx.table,
        }  # fmt: skip
        if ctx.business_system_id is not None:
            source["businessSystemId"] = ctx.business_system_id
        payload: dict[str, Any] = {"op": _OPS[change.record_type]}
        if before is not None:
            payload["before"] = render(before)
        payload["source"] = source
        if after is not None:
            payload["after"] = render(after)
        payload["ts_ms"] = now
        if transaction is not None:
            payload["transaction"] = transaction
        if self.include_schema:
            return orjson.dumps(
                {"schema": _value_schema(ctx, self.intra_transaction_sequence), "payload": payload}
            )
        return orjson.dumps({"payload": payload})

    def _transaction_block(self, change: RowChange) -> dict[str, Any] | None:
        """
        Debezium's `transaction`: the source transaction id, the change's number in it (`total_order`) and
        in its table (`data_collection_order`), counted over the changes this serializer saw in log order.
        None for full-sync rows, heartbeats and changes without a transaction or sequence.
        """
        txn, sequence = change.transaction_id, change.sequence
        if txn is None or sequence is None or change.record_type in (RecordType.ROW, RecordType.HEARTBEAT):
            return None
        last = self._transaction
        if last is not None and last[0] == txn and last[1] == sequence:
            return last[3]  # the same change again (a retried encode): the same answer
        counts = last[2] if last is not None and last[0] == txn and last[1] < sequence else {}
        table = (change.database, change.table)
        counts[table] = counts.get(table, 0) + 1
        block = {"id": txn, "total_order": sequence, "data_collection_order": counts[table]}
        self._transaction = (txn, sequence, counts, block)
        return block
