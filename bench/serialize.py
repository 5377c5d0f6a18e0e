"""
Default serialization throughput on one core: messages per second for a 15-column table of mixed types.

Usage: `.venv/bin/python bench/serialize.py [--rows 200000] [--record-type ROW] [--repeat 3]`

Rows carry the Python types pymysql returns. Three loops are timed: `value()` alone on prepared changes,
`key()` + `value()`, and the full-sync loop's work per row (build the `RowChange`, then `key()` + `value()`).
Each message is dropped after its length is taken, as a producer would hand it on, and the best of `--repeat`
runs is printed, as CPU time of this process (steady on a shared machine) and as wall time.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from airflow_provider_obkafka.engine.change import RecordType, RowChange, TableContext, build_table_context
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.models.schema import Column, TableSchema

COLUMNS = [
    ("id", "bigint", "bigint(20)"), ("tenant_id", "int", "int(11)"), ("status", "tinyint", "tinyint(4)"),
    ("amount", "decimal", "decimal(18,4)"), ("ratio", "double", "double"), ("name", "varchar", "varchar(64)"),
    ("note", "text", "text"), ("kind", "enum", "enum('a','b','c')"), ("created", "datetime", "datetime(6)"),
    ("updated", "timestamp", "timestamp(6)"), ("birthday", "date", "date"),
    ("hits", "bigint", "bigint(20) unsigned"), ("flags", "bit", "bit(8)"),
    ("digest", "varbinary", "varbinary(16)"), ("city", "varchar", "varchar(32)"),
]  # fmt: skip


def table() -> TableSchema:
    """The benchmark table: 15 columns, primary key `id`."""
    columns = tuple(
        Column(name=name, position=i, data_type=dt, column_type=ct, unsigned=ct.endswith("unsigned"))
        for i, (name, dt, ct) in enumerate(COLUMNS, start=1)
    )
    return TableSchema(database="bench", table="orders", columns=columns, primary_key=("id",))


def rows(count: int) -> list[tuple[Any, ...]]:
    """`count` rows with the Python types pymysql returns (a third of `note` is NULL)."""
    rng = random.Random(7)
    base = datetime(2024, 5, 1, 8, 0, 0)
    return [
        (
            i, rng.randint(1, 1000), rng.randint(0, 3), Decimal(f"{rng.randint(0, 10**8)}.{i % 10000:04d}"),
            rng.random() * 100, f"customer {i}", "备注 note 😀" if i % 3 else None, "abc"[i % 3],
            base + timedelta(seconds=i, microseconds=i % 1000), base + timedelta(seconds=i),
            date(1990, 1, 1 + i % 28), 2**63 + i, bytes([i % 256]), i.to_bytes(16, "big"), "Hangzhou",
        )
        for i in range(count)
    ]  # fmt: skip


def measure(label: str, count: int, work: Callable[[], None], repeat: int) -> float:
    """Run `work()` `repeat` times; print and return the best CPU-time rate."""
    cpu, wall = [], []
    for _ in range(repeat):
        gc.collect()
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        work()
        cpu.append(time.process_time() - cpu_start)
        wall.append(time.perf_counter() - wall_start)
    rate = count / min(cpu)
    print(f"{label:<32} {rate:>10,.0f} msg/s (CPU time)   {count / min(wall):>10,.0f} msg/s (wall)")
    return rate


def change_factory(kind: RecordType, ctx: TableContext) -> Callable[[tuple[Any, ...]], RowChange]:
    """What a reader does per row: wrap it in a `RowChange` of the given record type."""
    names, key = ctx.image_columns, ctx.key_columns
    commit = None if kind is RecordType.ROW else 1_714_550_400_000_000
    before = kind in (RecordType.UPDATE, RecordType.DELETE)
    after = kind is not RecordType.DELETE

    def change(row: tuple[Any, ...]) -> RowChange:
        return RowChange(
            "bench", "orders", kind, names, row if before else None, row if after else None, key, commit,
            f"id={row[0]}", None if commit is None else "1002_336195", None if commit is None else 0,
        )  # fmt: skip

    return change


def main() -> None:
    """Build the context and the changes, then time the serializer."""
    parser = argparse.ArgumentParser(description="Default serialization throughput on one core")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--record-type", default="ROW", choices=[t.value for t in RecordType])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ctx = build_table_context(table(), tenant="bench_tenant")
    serializer = serializer_for("Default")
    data, make = rows(args.rows), change_factory(RecordType(args.record_type), ctx)
    changes = [make(row) for row in data]
    value, key = serializer.value, serializer.key

    def values_only() -> None:
        for change in changes:
            len(value(change, ctx))

    def keys_and_values() -> None:
        for change in changes:
            key(change, ctx)
            len(value(change, ctx))

    def full_sync_loop() -> None:
        for row in data:
            change = make(row)
            key(change, ctx)
            len(value(change, ctx))

    print(f"Default {args.record_type}, {len(ctx.columns)} columns, {args.rows:,} rows, one core")
    print(f"sample ({len(value(changes[1], ctx))} bytes): {value(changes[1], ctx).decode()}")
    measure("value()", args.rows, values_only, args.repeat)
    measure("key() + value()", args.rows, keys_and_values, args.repeat)
    measure("RowChange + key() + value()", args.rows, full_sync_loop, args.repeat)


if __name__ == "__main__":
    main()
