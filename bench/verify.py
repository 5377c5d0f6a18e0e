"""
Verification throughput and memory: rows per second and peak memory of `engine/verify` comparing a table with
its topic, both generated in this process as streams (nothing is held but what verification holds).

Usage: `.venv/bin/python bench/verify.py [--rows 200000] [--chunk 100000] [--max-keys 100000] [--method Default]`

Full: one topic pass and one source pass per chunk (a good topic), then the same with one message removed per
chunk (the second pass, key by key, on every chunk). Final state: buckets of at most `--max-keys` keys. Peak
memory is tracemalloc's peak of Python allocations during a second run (the streams are generators, so it shows
what verification keeps); rows/s counts source rows compared, in wall time of the first, untraced run.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.pipeline.full import row_encoder
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
from airflow_provider_obkafka.engine.verify.check import TableCheck, TopicMessage
from airflow_provider_obkafka.engine.verify.full import verify_full
from airflow_provider_obkafka.engine.verify.messages import DETERMINISTIC, parser_for
from airflow_provider_obkafka.engine.verify.report import VerifyReport
from airflow_provider_obkafka.engine.verify.state import verify_state
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema


def _check(method: str, rows: int, chunk: int) -> TableCheck:
    columns = (
        Column(name="id", position=1, data_type="bigint", column_type="bigint", nullable=False),
        Column(name="customer", position=2, data_type="varchar", column_type="varchar(20)", length=20),
        Column(name="total", position=3, data_type="decimal", column_type="decimal(12,2)", precision=12, scale=2),
        Column(name="note", position=4, data_type="varchar", column_type="varchar(64)", length=64),
    )
    ctx = build_table_context(TableSchema(database="d", table="orders", columns=columns, primary_key=("id",)))
    bounds = [None, *[(i,) for i in range(chunk, rows, chunk)], None]
    chunks = [Chunk(TableRef("d", "orders"), i, ("id",), bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    check = TableCheck(ctx, "t", row_encoder(serializer_for(method), ctx), parser_for(method),
                       deterministic=method in DETERMINISTIC, chunks=chunks)  # fmt: skip
    check.records = {chunk.index: _record(check, chunk, rows) for chunk in chunks}
    return check


def _record(check: TableCheck, chunk: Chunk, rows: int) -> dict[str, int]:
    """The done-record the full sync would have written for the chunk."""
    start = 0 if chunk.lower is None else chunk.lower[0]
    end = rows if chunk.upper is None else chunk.upper[0]
    crc = sum(zlib.crc32(check.encode(_row(i))[1]) for i in range(start, end))
    return {"rows": end - start, "checksum": crc & ((1 << 64) - 1)}


def _row(i: int) -> tuple[Any, ...]:
    return (i, f"c{i % 97}", f"{i}.25", "a note of some length for the row")


class Streams:
    """The table and its topic as generators; `drop` leaves out every row whose id is a multiple of it."""

    def __init__(self, check: TableCheck, rows: int, drop: int | None) -> None:
        self.check, self.rows, self.drop = check, rows, drop

    def messages(self, topic: str) -> Iterator[TopicMessage]:
        for i in range(self.rows):
            if self.drop is None or i % self.drop:
                key, value = self.check.encode(_row(i))
                yield TopicMessage(key, value, 0, i, 1)

    def chunk_rows(self, check: TableCheck, chunk: Chunk) -> Iterator[list[tuple[Any, ...]]]:
        start = 0 if chunk.lower is None else chunk.lower[0]
        end = self.rows if chunk.upper is None else chunk.upper[0]
        for low in range(start, end, 5000):
            yield [_row(i) for i in range(low, min(low + 5000, end))]

    def table_rows(self, check: TableCheck) -> Iterator[list[tuple[Any, ...]]]:
        return self.chunk_rows(check, Chunk(TableRef("d", "orders"), 0, ("id",), None, None))

    def count_rows(self, check: TableCheck) -> int:
        return self.rows

    def settle(self) -> str:
        return "bench"


def _measure(label: str, rows: int, run: Any) -> None:
    """Rows/s of one run without tracing (tracemalloc slows Python several times), then peak memory of another."""
    started = time.perf_counter()
    report = run()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:48s} {rows / elapsed:10,.0f} rows/s  peak {peak / 2**20:7.1f} MiB  "
          f"ok={report.ok} differences={len(report.differences) + sum(report.unlisted.values())}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--max-keys", type=int, default=20_000)
    parser.add_argument("--method", default="Default")
    args = parser.parse_args()
    check = _check(args.method, args.rows, args.chunk)
    rows, keys = args.rows, args.max_keys
    print(f"{args.method}, {rows:,} rows, chunks of {args.chunk:,}, max_keys {keys:,}")
    _measure("full, good topic", rows, lambda: verify_full([check], Streams(check, rows, None),
                                                          VerifyReport("full"), max_keys=keys))
    _measure("full, one row missing per 50,000 (key pass)", rows, lambda: verify_full(
        [check], Streams(check, rows, 50_000), VerifyReport("full"), max_keys=keys))
    _measure("final state, good topic", rows, lambda: verify_state(
        [check], Streams(check, rows, None), VerifyReport("incremental"), max_keys=keys, rechecks=0))


if __name__ == "__main__":
    main()
