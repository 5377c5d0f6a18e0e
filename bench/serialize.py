"""
Serialization throughput on one core, every registered method: messages per second for a 15-column table of
mixed types, beside Default.

Usage: `.venv/bin/python bench/serialize.py [--rows 100000] [--repeat 3] [--methods Default,Canal]`

Rows carry the Python types pymysql returns. Per method five loops are timed on prepared changes: ROW
`value()`, ROW `key()` + `value()` (the full-sync work per row after the reader), UPDATE `value()` (two
images), UPDATE `record()` (what the incremental router calls per change: the record function, numbering
with the stream's `StoreSequence`), and UPDATE `messages()` (the same with `key_change: delete_then_insert`
and `tombstones_on_delete` on; the bench's UPDATEs keep their key, the usual case, so each stays one
message). Each message is dropped after its length is taken, as a producer would hand it on. The best of
`--repeat` runs is reported, in CPU time of this process (steady on a shared machine), with the ratio to
Default. `--full-loop` also times building the `RowChange` per row, as the full-sync loop does.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import record_function, serializer_for
from airflow_provider_obkafka.engine.serializers.key_change import messages_function
from airflow_provider_obkafka.engine.serializers.sequence import StoreSequence
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import Serialization
from airflow_provider_obkafka.models.schema import Column, TableSchema

if TYPE_CHECKING:
    from collections.abc import Callable

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


def best_rate(count: int, work: Callable[[], None], repeat: int) -> float:
    """Run `work()` `repeat` times; the best rate in messages per CPU second."""
    cpu = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        work()
        cpu.append(time.process_time() - start)
    return count / min(cpu)


def change_factory(kind: RecordType, ctx: TableContext) -> Callable[[tuple[Any, ...]], RowChange]:
    """What a reader does per row: wrap it in a `RowChange` of the given record type."""
    names, key = ctx.image_columns, ctx.key_columns
    commit = None if kind is RecordType.ROW else 1_714_550_400_000_000
    before = kind in (RecordType.UPDATE, RecordType.DELETE)
    after = kind is not RecordType.DELETE

    def change(row: tuple[Any, ...]) -> RowChange:
        return RowChange(
            "bench", "orders", kind, names, row if before else None, row if after else None, key, commit,
            None if commit is None else "mysql-bin.000001:4", None if commit is None else "1002_336195",
            None if commit is None else 1,
        )  # fmt: skip

    return change


def stream_loops(name: str, ctx: TableContext, updates: list[RowChange]) -> dict[str, Callable[[], None]]:
    """The incremental router's per-change work on UPDATEs: record function, then with both key options."""
    serializer = serializer_for(name, sequence=StoreSequence().number)
    record = record_function(serializer, ctx)
    messages = messages_function(
        record, lambda one: serializer.key(one, ctx), ctx, delete_then_insert=True, tombstones=True
    )
    assert messages is not None

    def records() -> None:
        for change in updates:
            len(record(change)[1])

    def split() -> None:
        for change in updates:
            for _key, value in messages(change):
                len(value or b"")

    return {"UPDATE record()": records, "UPDATE messages()": split}


def loops(
    serializer: Any, ctx: TableContext, data: list[tuple[Any, ...]], full_loop: bool, name: str
) -> dict[str, Callable[[], None]]:
    """The timed loops of one serializer (`name`'s)."""
    row, update = change_factory(RecordType.ROW, ctx), change_factory(RecordType.UPDATE, ctx)
    rows, updates = [row(r) for r in data], [update(r) for r in data]
    value, key = serializer.value, serializer.key

    def values(changes: list[RowChange]) -> Callable[[], None]:
        def work() -> None:
            for change in changes:
                len(value(change, ctx))

        return work

    def keys_and_values() -> None:
        for change in rows:
            key(change, ctx)
            len(value(change, ctx))

    def full_sync_loop() -> None:
        for r in data:
            change = row(r)
            key(change, ctx)
            len(value(change, ctx))

    work = {
        "ROW value()": values(rows),
        "ROW key()+value()": keys_and_values,
        "UPDATE value()": values(updates),
        **stream_loops(name, ctx, updates),
    }
    if full_loop:
        work["RowChange+key()+value()"] = full_sync_loop
    return work


def methods(wanted: str | None) -> list[str]:
    """The methods to time: every registered one (those `serializer_for` builds), or the ones asked for."""
    names = [m.strip() for m in wanted.split(",")] if wanted else [str(m.value) for m in Serialization]
    ready = []
    for name in names:
        try:
            serializer_for(name)
        except ConfigError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        ready.append(name)
    return ready


def main() -> None:
    """Build the context and the changes, then time every method and print a table."""
    parser = argparse.ArgumentParser(description="Serialization throughput on one core, every method")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", help="comma-separated method names (default: every registered one)")
    parser.add_argument("--full-loop", action="store_true", help="also time RowChange + key() + value()")
    args = parser.parse_args()
    data = rows(args.rows)
    names = methods(args.methods)
    if "Default" not in names:
        names.insert(0, "Default")
    results: dict[str, dict[str, float]] = {}
    for name in names:
        ctx = build_table_context(table(), tenant="bench_tenant")  # a fresh per-table cache per method
        serializer = serializer_for(name)
        sample = serializer.value(change_factory(RecordType.ROW, ctx)(data[1]), ctx)
        print(f"{name} sample ({len(sample)} bytes): {sample.decode()[:160]}...")
        work = loops(serializer, ctx, data, args.full_loop, name)
        results[name] = {label: best_rate(args.rows, job, args.repeat) for label, job in work.items()}
    labels = list(results["Default"])
    print(f"\n{len(COLUMNS)} columns, {args.rows:,} rows, best of {args.repeat}, messages/s (CPU time), "
          "ratio to Default")  # fmt: skip
    print(f"{'method':<24}" + "".join(f"{label:>28}" for label in labels))
    for name, rates in results.items():
        cells = [
            f"{rates[label]:>16,.0f} ({rates[label] / results['Default'][label]:.2f}x)" for label in labels
        ]
        print(f"{name:<24}" + "".join(f"{cell:>28}" for cell in cells))


if __name__ == "__main__":
    main()
