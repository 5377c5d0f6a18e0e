"""Chunk planning: coverage without gaps or overlaps, sizes, keys chosen, and chunks through JSON (XCom)."""

from __future__ import annotations

import json
import random
from bisect import bisect_left
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_obkafka.engine.snapshot.chunk_keys import decode_key, encode_key
from airflow_provider_obkafka.engine.snapshot.chunking import (
    Chunk,
    ChunkKey,
    ChunkPlan,
    choose_chunk_key,
    iter_chunks,
    plan_chunks,
)
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema, UniqueKey

REF = TableRef("shop", "orders")


class FakeTable:
    """Keys in a sorted list; `next_boundary` answers as the boundary SQL does, and counts its calls."""

    def __init__(self, keys: list[tuple[Any, ...]]) -> None:
        self.keys = sorted(keys)
        self.calls: list[tuple[Any, int]] = []

    def next_boundary(self, after: tuple[Any, ...] | None, offset: int) -> tuple[Any, ...] | None:
        self.calls.append((after, offset))
        at = (0 if after is None else bisect_left(self.keys, after)) + offset
        return self.keys[at] if at < len(self.keys) else None


def rows_in(chunk: Chunk, keys: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The keys a chunk's WHERE clause selects: lower <= key < upper."""
    return [
        key
        for key in keys
        if (chunk.lower is None or key >= chunk.lower) and (chunk.upper is None or key < chunk.upper)
    ]


def assert_partition(
    chunks: list[Chunk], keys: list[tuple[Any, ...]], size: int, unique: bool = True
) -> None:
    """Half-open, contiguous, covering: every key in exactly one chunk, each chunk at most `size` rows."""
    assert chunks[0].lower is None
    assert chunks[-1].upper is None
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.upper == after.lower
        assert before.upper is not None
    for key in keys:
        assert sum(1 for chunk in chunks if rows_in(chunk, [key])) == 1, key
    counts = [len(rows_in(chunk, keys)) for chunk in chunks]
    assert sum(counts) == len(keys)
    if unique:
        assert all(count == size for count in counts[:-1]), counts
        assert counts[-1] <= size


def ints(values: Any) -> list[tuple[int]]:
    return [(value,) for value in values]


CASES = [
    pytest.param(ints(range(10_000)), 1000, 10, id="dense-int"),
    pytest.param(ints(range(10)), 3, 4, id="dense-small"),
    pytest.param(ints(range(9)), 3, 3, id="exact-multiple-no-empty-tail"),
    pytest.param(ints([*range(1, 1001), *range(10**12, 10**12 + 9001)]), 1000, 11, id="sparse-skewed"),
    pytest.param(ints([2**63, 2**64 - 1, 0]), 1, 3, id="unsigned-bigint"),
    pytest.param(
        [(chr(97 + i % 26) * (1 + i % 3), i) for i in range(500)], 64, 8, id="composite-varchar-int"
    ),
    pytest.param([(f"k{i:05d}",) for i in range(100)], 7, 15, id="varchar"),
    pytest.param(
        [(datetime(2024, 1, 1) + timedelta(seconds=i * 37, microseconds=i),) for i in range(200)],
        50,
        4,
        id="datetime",
    ),  # fmt: skip
    pytest.param([(Decimal(i) / 8,) for i in range(-40, 40)], 16, 5, id="decimal"),
    pytest.param(ints([42]), 1000, 1, id="one-row"),
    pytest.param([], 1000, 1, id="empty"),
]


@pytest.mark.parametrize(("keys", "size", "expected_chunks"), CASES)
def test_chunks_partition_the_key_space(keys, size, expected_chunks):
    table = FakeTable(keys)
    columns = ("k1", "k2")[: len(keys[0])] if keys else ("id",)
    chunks = list(iter_chunks(REF, columns, size, table.next_boundary))
    assert len(chunks) == expected_chunks
    assert_partition(chunks, table.keys, size)
    assert len(table.calls) == len(chunks), "one boundary query per chunk"
    assert all(offset == size for _, offset in table.calls)


@pytest.mark.parametrize("seed", range(60))
def test_property_random_tables_partition_and_later_rows_fall_in_one_chunk(seed):
    rng = random.Random(seed)
    width = rng.choice([1, 2, 3])
    spread = rng.choice([3, 50, 10**6, 10**15])
    keys = list(
        {tuple(rng.randrange(-spread, spread) for _ in range(width)) for _ in range(rng.randrange(0, 400))}
    )
    size = rng.choice([1, 2, 7, 50, 1000])
    table = FakeTable(keys)
    chunks = list(iter_chunks(REF, tuple(f"c{i}" for i in range(width)), size, table.next_boundary))
    assert_partition(chunks, table.keys, size)
    inserted_later = [tuple(rng.randrange(-2 * spread, 2 * spread) for _ in range(width)) for _ in range(50)]
    for key in inserted_later:
        assert sum(1 for chunk in chunks if rows_in(chunk, [key])) == 1


@pytest.mark.parametrize("seed", range(20))
def test_property_non_unique_keys_still_cover_every_row_once(seed):
    rng = random.Random(seed)
    keys = [(rng.choice([1, 1, 1, 2, 3, 5, 8]),) for _ in range(rng.randrange(1, 300))]
    size = rng.choice([1, 2, 5, 20])
    table = FakeTable(keys)
    chunks = list(iter_chunks(REF, ("k",), size, table.next_boundary))
    assert_partition(chunks, table.keys, size, unique=False)
    for chunk in chunks:  # past the target only when its lower value repeats more than the target
        rows = rows_in(chunk, table.keys)
        assert len(rows) <= max(size, 2 * rows.count(chunk.lower))


def test_a_value_repeated_past_the_target_doubles_the_offset():
    table = FakeTable(ints([1] * 3 + [2] * 10 + [3]))
    chunks = list(iter_chunks(REF, ("k",), 2, table.next_boundary))
    assert [(c.lower, c.upper) for c in chunks] == [(None, (1,)), ((1,), (2,)), ((2,), None)]
    assert [offset for after, offset in table.calls if after == (2,)] == [2, 4, 8, 16]


def test_no_key_is_one_chunk_without_queries():
    def never(after, offset):
        raise AssertionError("no boundary query for a table without a key")

    plan = plan_chunks(REF, ChunkKey((), "no key"), 10, never)
    assert plan.chunks == (Chunk(REF, 0, (), None, None),)
    assert plan.warning == "no key"


def test_plan_carries_key_warning_and_estimate():
    table = FakeTable(ints(range(25)))
    plan = plan_chunks(REF, ChunkKey(("id",), "why"), 10, table.next_boundary, count_rows=lambda: 25)
    assert (plan.key_columns, plan.chunk_size, len(plan.chunks)) == (("id",), 10, 3)
    assert (plan.warning, plan.estimated_rows) == ("why", 25)
    assert plan_chunks(REF, ["id"], 10, table.next_boundary).warning is None


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_chunk_size_must_be_a_positive_int(size):
    with pytest.raises(ValueError, match="chunk_size"):
        list(iter_chunks(REF, ("id",), size, FakeTable([]).next_boundary))


@pytest.mark.parametrize("boundary", [(None,), (1, 2)])
def test_a_boundary_that_is_null_or_the_wrong_width_is_refused(boundary):
    with pytest.raises(SchemaError, match="shop.orders"):
        list(iter_chunks(REF, ("id",), 1, lambda after, offset: boundary))


def column(name: str, nullable: bool = False) -> Column:
    return Column(name=name, position=1, data_type="int", column_type="int", nullable=nullable)


def schema(pk=(), uniques=(), nullable=()) -> TableSchema:
    names = ("id", "code", "other", "opt")
    cols = tuple(column(name, nullable=name in nullable) for name in names)
    return TableSchema(database="shop", table="orders", columns=cols, primary_key=pk, unique_keys=uniques)


UK_NULL = UniqueKey(name="uk_opt", columns=("opt",), not_null=False)
UK_CODE = UniqueKey(name="uk_code", columns=("code", "other"), not_null=True)


@pytest.mark.parametrize(
    ("table", "chosen", "columns", "warning"),
    [
        (schema(pk=("id",), uniques=(UK_CODE,)), None, ("id",), None),
        (
            schema(uniques=(UK_NULL, UK_CODE), nullable=("opt",)),
            None,
            ("code", "other"),
            "NOT NULL unique key",
        ),
        (schema(uniques=(UK_NULL,), nullable=("opt",)), None, (), "read in one pass"),
        (schema(), None, (), "no primary key and no NOT NULL unique key"),
        (schema(pk=("id",)), ["id"], ("id",), None),
        (schema(), ["other"], ("other",), "chosen columns (other)"),
    ],
)
def test_choose_chunk_key(table, chosen, columns, warning):
    key = choose_chunk_key(table, chosen)
    assert key.columns == columns
    assert (
        (key.warning is None)
        if warning is None
        else (warning in key.warning and "shop.orders" in key.warning)
    )


@pytest.mark.parametrize(
    ("chosen", "message"),
    [(["nope"], "no column 'nope' to chunk on; its columns: id, code, other, opt"), (["opt"], "allows NULL")],
)
def test_a_chosen_chunk_key_must_exist_and_be_not_null(chosen, message):
    with pytest.raises(SchemaError, match=message):
        choose_chunk_key(schema(nullable=("opt",)), chosen)


EXACT_VALUES = [
    0, -1, 2**64 - 1, 1.5, -0.1, "", "ключ `x`", True,
    Decimal("1.50"), Decimal("-0.000001"), Decimal("123456789012345678901234567890.123456789"),
    datetime(2024, 2, 29, 23, 59, 59, 999999), datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
    date(1000, 1, 1), time(12, 30, 0, 5), timedelta(hours=-838, minutes=-59, seconds=-59),
    timedelta(microseconds=1),
    b"\x00\xff binary", bytearray(b"\x01"),
]  # fmt: skip


@pytest.mark.parametrize("value", EXACT_VALUES, ids=lambda value: type(value).__name__)
def test_key_values_survive_json_exactly(value):
    back = decode_key(json.loads(json.dumps(encode_key((value,)))))
    assert back is not None
    assert back[0] == value
    assert type(back[0]) is (bytes if isinstance(value, bytearray) else type(value))
    assert str(back[0]) == str(bytes(value) if isinstance(value, bytearray) else value)


def test_none_keys_and_unsupported_values():
    assert encode_key(None) is None
    assert decode_key(None) is None
    with pytest.raises(TypeError, match="complex"):
        encode_key((1j,))
    with pytest.raises(ValueError, match="unknown tagged key value"):
        decode_key([{"$uuid": "x"}])


def test_chunk_and_plan_round_trip_through_json():
    table = FakeTable([(Decimal(i) / 4, datetime(2024, 1, 1) + timedelta(minutes=i)) for i in range(30)])
    plan = plan_chunks(REF, ChunkKey(("amount", "at"), "w"), 7, table.next_boundary, count_rows=lambda: 30)
    data = json.loads(json.dumps(plan.to_dict()))
    assert ChunkPlan.from_dict(data) == plan
    chunk = plan.chunks[2]
    assert Chunk.from_dict(json.loads(json.dumps(chunk.to_dict()))) == chunk
    assert chunk.describe().startswith("shop.orders chunk 2 [(Decimal(")


def test_chunk_bounds_must_match_the_key():
    with pytest.raises(ValueError, match="does not match key"):
        Chunk(REF, 0, ("a", "b"), (1,), None)


def test_a_table_without_a_key_at_a_snapshot_is_planned_in_slices_of_chunk_size_rows():
    def never(after, offset):
        raise AssertionError("a table without a key needs no boundary query")

    plan = plan_chunks(REF_NO_KEY, ChunkKey(()), 40, never, rows_at_snapshot=100)
    assert [c.rows_slice for c in plan.chunks] == [(0, 40), (40, 40), (80, None)], "the last one to the end"
    assert [c.index for c in plan.chunks] == [0, 1, 2]
    assert plan.chunks[1].describe() == "shop.heap chunk 1 rows [40, 80)"
    assert plan.chunks[2].describe() == "shop.heap chunk 2 rows [80, end)"
    assert all(Chunk.from_dict(c.to_dict()) == c for c in plan.chunks)
    assert [c.rows_slice for c in plan_chunks(REF_NO_KEY, ChunkKey(()), 40, never, rows_at_snapshot=0).chunks] == [
        (0, None)
    ], "an empty table is one slice"
    whole = plan_chunks(REF_NO_KEY, ChunkKey(()), 40, never).chunks
    assert [(c.rows_slice, "rows_slice" in c.to_dict()) for c in whole] == [(None, False)], "no snapshot: one pass"


REF_NO_KEY = TableRef("shop", "heap")
