"""
Split a table into half-open key ranges of about `chunk_size` rows, without loading its keys.

Boundaries come from the data: the caller's `next_boundary(after, offset)` returns the key `offset` rows past
the first row with key >= `after` (SQL: `engine.snapshot.sql.boundary_sql`), so skewed, sparse and non-integer keys
split as evenly as dense integers. Chunk `i` is `[lower_i, upper_i)`; the first lower and the last upper are
None and each upper is the next lower, so the chunks cover the key space once: a row inserted after planning
still falls in exactly one chunk.

Chunks travel through XCom as plain dicts (`to_dict()`/`from_dict()`); their key values go through
`engine.snapshot.chunk_keys`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from airflow_provider_obkafka.engine.snapshot.chunk_keys import Key, decode_key, encode_key
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.schema import TableRef, TableSchema

__all__ = ["Chunk", "ChunkKey", "ChunkPlan", "NextBoundary", "choose_chunk_key", "iter_chunks", "plan_chunks"]

log = logging.getLogger(__name__)

NextBoundary = Callable[[Key | None, int], Sequence[Any] | None]
CountRows = Callable[[], int | None]


@dataclass(frozen=True)
class Chunk:
    """
    One half-open key range of a table: rows with `lower <= key < upper`, compared as row constructors.

    :param table: the table
    :param index: 0-based position in the plan
    :param key_columns: the chunk key columns; empty for a table without a key (read in one pass, or in slices)
    :param lower: inclusive lower key, or None from the start
    :param upper: exclusive upper key, or None to the end
    :param rows_slice: a table without a key, read at a snapshot: `(offset, rows)`, this chunk's rows of the
        table in a total order of all its columns (`rows` None: to the end)
    """

    table: TableRef
    index: int
    key_columns: tuple[str, ...]
    lower: Key | None
    upper: Key | None
    rows_slice: tuple[int, int | None] | None = None

    def __post_init__(self) -> None:
        for name, bound in (("lower", self.lower), ("upper", self.upper)):
            if bound is not None and len(bound) != len(self.key_columns):
                raise ValueError(f"{self.describe()}: {name} does not match key {self.key_columns!r}")

    def describe(self) -> str:
        """`db.t chunk 3 [(10,), (20,))` (`db.t chunk 3 rows [300, 400)` for a slice) for logs and errors."""
        if self.rows_slice is not None:
            offset, rows = self.rows_slice
            return f"{self.table} chunk {self.index} rows [{offset}, {'end' if rows is None else offset + rows})"
        lower = "start" if self.lower is None else repr(self.lower)
        upper = "end" if self.upper is None else repr(self.upper)
        return f"{self.table} chunk {self.index} [{lower}, {upper})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for XCom); `from_dict` reads it back exactly."""
        return {
            **TableRef(*self.table)._asdict(),
            "index": self.index,
            "key_columns": list(self.key_columns),
            "lower": encode_key(self.lower),
            "upper": encode_key(self.upper),
            **({} if self.rows_slice is None else {"rows_slice": list(self.rows_slice)}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chunk:
        """The chunk that `to_dict` wrote."""
        found = data.get("rows_slice")
        return cls(
            table=TableRef(data["database"], data["table"]),
            index=int(data["index"]),
            key_columns=tuple(data["key_columns"]),
            lower=decode_key(data["lower"]),
            upper=decode_key(data["upper"]),
            rows_slice=None if found is None else (int(found[0]), None if found[1] is None else int(found[1])),
        )


class ChunkKey(NamedTuple):
    """
    The columns a table is chunked on, and why not on the primary key when that is the case.

    :param columns: the key columns; empty means one chunk, read in one pass
    :param warning: why the table is not chunked on its primary key, for the operator to log; None when it is
    """

    columns: tuple[str, ...]
    warning: str | None = None


def choose_chunk_key(schema: TableSchema, columns: Sequence[str] | None = None) -> ChunkKey:
    """
    The columns to chunk a table on, with a warning when they are not its primary key.

    Default: the primary key, else the first NOT NULL unique key, else none (one chunk, read in one pass).

    :param schema: the table
    :param columns: a chosen chunk key instead; every column must exist and be NOT NULL (a NULL key value
        matches no range, so its row would be skipped). A non-unique choice makes chunks uneven, never wrong
    """
    if columns:
        chosen = _checked_key(schema, tuple(columns))
        if chosen == schema.primary_key:
            return ChunkKey(chosen)
        return ChunkKey(
            chosen,
            f"{schema.ref} is chunked on the chosen columns ({', '.join(chosen)}), not its primary key",
        )
    if schema.primary_key:
        return ChunkKey(schema.primary_key)
    key = schema.row_key()
    if key:
        return ChunkKey(
            key, f"{schema.ref} has no primary key: chunked on the NOT NULL unique key ({', '.join(key)})"
        )
    return ChunkKey((), f"{schema.ref} has no primary key and no NOT NULL unique key: read in one pass (at an "
                        "OceanBase snapshot: in slices of chunk_size rows, ordered by all its columns)")


def _checked_key(schema: TableSchema, columns: tuple[str, ...]) -> tuple[str, ...]:
    """`columns` when each exists and is NOT NULL; else SchemaError naming the table and column."""
    for name in columns:
        if name not in schema.column_names:
            known = ", ".join(schema.column_names)
            raise SchemaError(f"{schema.ref} has no column {name!r} to chunk on; its columns: {known}")
        if schema.column(name).nullable:
            raise SchemaError(f"{schema.ref} cannot be chunked on {name!r}: the column allows NULL")
    return columns


@dataclass(frozen=True)
class ChunkPlan:
    """
    The chunks of one table.

    :param table: the table
    :param key_columns: the chunk key; empty for a table read in one chunk
    :param chunk_size: the target rows per chunk
    :param chunks: the chunks, in key order, covering the key space once
    :param warning: why the table is not chunked on its primary key, or None
    :param estimated_rows: the row count or estimate the caller's counter gave, or None
    """

    table: TableRef
    key_columns: tuple[str, ...]
    chunk_size: int
    chunks: tuple[Chunk, ...]
    warning: str | None = None
    estimated_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for XCom); `from_dict` reads it back exactly."""
        return {
            **TableRef(*self.table)._asdict(),
            "key_columns": list(self.key_columns),
            "chunk_size": self.chunk_size,
            "chunks": [chunk.to_dict() for chunk in self.chunks],
            "warning": self.warning,
            "estimated_rows": self.estimated_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkPlan:
        """The plan that `to_dict` wrote."""
        chunks = tuple(Chunk.from_dict(chunk) for chunk in data["chunks"])
        table, key = TableRef(data["database"], data["table"]), tuple(data["key_columns"])
        return cls(
            table, key, int(data["chunk_size"]), chunks, data.get("warning"), data.get("estimated_rows")
        )


def _next_upper(next_boundary: NextBoundary, lower: Key | None, chunk_size: int) -> Key | None:
    """
    The upper bound of the chunk starting at `lower`: the key `chunk_size` rows on, or None at the end.

    With a unique key the boundary is always past `lower`. With a non-unique key more than `chunk_size` rows
    can share the value `lower`; the offset then doubles until the boundary moves past it, so the chunk holds
    every row of that value (more than the target) and the plan still ends. Equality is Python's, so values
    a case-insensitive collation calls equal ('a', 'A') are not caught: chunk non-unique text keys with care.
    """
    offset = chunk_size
    while True:
        found = next_boundary(lower, offset)
        upper = None if found is None else tuple(found)
        if upper is None or lower is None or upper != lower:
            return upper
        log.debug("key value %r repeats more than %d times; looking %d rows on", lower, offset, offset * 2)
        offset *= 2


def iter_chunks(
    table: TableRef, key_columns: Sequence[str], chunk_size: int, next_boundary: NextBoundary,
    rows_at_snapshot: int | None = None,
) -> Iterator[Chunk]:  # fmt: skip
    """
    Yield the chunks of a table in key order, asking `next_boundary` once per chunk (the last answer is None).

    :param table: the table
    :param key_columns: the chunk key (see `choose_chunk_key`); empty yields one chunk without asking anything,
        or the slices of `slice_chunks` when `rows_at_snapshot` is given
    :param chunk_size: target rows per chunk, at least 1
    :param next_boundary: `(after, offset) -> key | None`: the key `offset` rows past the first row with
        key >= `after` (`after` None: from the first row), or None when there is no such row
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"{table}: chunk_size must be an int >= 1, got {chunk_size!r}")
    columns = tuple(key_columns)
    if not columns and rows_at_snapshot is not None:
        yield from slice_chunks(table, chunk_size, rows_at_snapshot)
        return
    lower: Key | None = None
    index = 0
    while True:
        upper = _next_upper(next_boundary, lower, chunk_size) if columns else None
        if upper is not None and (len(upper) != len(columns) or None in upper):
            raise SchemaError(f"{table}: boundary {upper!r} is not a NOT NULL value of key {columns!r}")
        yield Chunk(table, index, columns, lower, upper)
        if upper is None:
            return
        lower, index = upper, index + 1


def slice_chunks(table: TableRef, chunk_size: int, rows_at_snapshot: int) -> Iterator[Chunk]:
    """
    The chunks of a table without a key read at a snapshot: `chunk_size` rows each, by offset in a total order
    of all its columns (`engine.snapshot.sql.select_chunk_sql`); the last one reads to the end. The snapshot
    fixes the rows, so every read of a slice gives the same rows (rows equal in every column are
    interchangeable), and the slices hold each row once.
    """
    slices = max(1, -(-rows_at_snapshot // chunk_size))
    for index in range(slices):
        rows = chunk_size if index < slices - 1 else None
        yield Chunk(table, index, (), None, None, (index * chunk_size, rows))


def plan_chunks(
    table: TableRef,
    key: ChunkKey | Sequence[str],
    chunk_size: int,
    next_boundary: NextBoundary,
    *,
    count_rows: CountRows | None = None,
    rows_at_snapshot: int | None = None,
) -> ChunkPlan:
    """
    Plan a table's chunks; memory holds one key per chunk, never the table's keys.

    :param table: the table
    :param key: a `ChunkKey` from `choose_chunk_key` (its warning goes into the plan), or the columns
    :param chunk_size: target rows per chunk, at least 1
    :param next_boundary: see `iter_chunks`; run it against the same snapshot the chunks will be read at
    :param count_rows: optional row count or statistics estimate, for progress reporting only
    :param rows_at_snapshot: a table without a key: its exact row count at the snapshot the chunks are read at,
        to read it in slices (`slice_chunks`); None reads it in one pass
    """
    chunk_key = key if isinstance(key, ChunkKey) else ChunkKey(tuple(key))
    chunks = tuple(iter_chunks(table, chunk_key.columns, chunk_size, next_boundary, rows_at_snapshot))
    estimated = count_rows() if count_rows is not None else None
    log.info("planned %d chunk(s) of up to %d rows for %s", len(chunks), chunk_size, table)
    return ChunkPlan(table, chunk_key.columns, chunk_size, chunks, chunk_key.warning, estimated)
