"""
The full-synchronization loop of one chunk: rows in, messages out, with progress and a checksum, committed
with the chunk's done-record in one Kafka transaction (`commit_chunk`).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.serializers import record_function

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_obkafka.engine.changes.change import TableContext
    from airflow_provider_obkafka.engine.kafka.oversize import OversizeGuard
    from airflow_provider_obkafka.engine.kafka.sink import Send, TransactionalSink
    from airflow_provider_obkafka.engine.routing.partitioning import PartitionRule
    from airflow_provider_obkafka.engine.serializers import Serializer

log = logging.getLogger(__name__)

Encode = Callable[[tuple[Any, ...]], tuple[bytes | None, bytes]]
CHECKSUM_MASK = (1 << 64) - 1


class ChunkResult(NamedTuple):
    """What one chunk produced: its row count and the checksum of its message values."""

    rows: int
    checksum: int


def message_checksum(values: Iterable[bytes]) -> int:
    """Order-independent checksum of message values: the sum of their CRC32s, modulo 2^64.

    A consumer computes the same figure from what it reads, in any order and over any partitions.
    """
    total = 0
    for value in values:
        total += zlib.crc32(value)
    return total & CHECKSUM_MASK


class Progress:
    """
    Logs rows done, rows per second and the estimated time left, at most every `every` seconds.

    :param label: what is being synchronized (table and chunk), for the log line
    :param expected: the expected row count, or None when unknown (then no estimate is given)
    :param every: seconds between two log lines
    :param clock: a monotonic clock (injected for tests)
    """

    def __init__(
        self, label: str, expected: int | None, every: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.label = label
        self.expected = expected
        self.every = every
        self.clock = clock
        self.started = clock()
        self.next_report = self.started + every
        self.lines: list[str] = []

    def update(self, done: int, force: bool = False) -> None:
        """Report `done` rows when a report is due (or when forced)."""
        now = self.clock()
        if not force and now < self.next_report:
            return
        self.next_report = now + self.every
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        line = f"{self.label}: {done} rows, {rate:,.0f} rows/s"
        if self.expected:
            left = max(self.expected - done, 0)
            eta = f"{left / rate:,.0f} s" if rate > 0 else "unknown"
            line += f", {min(done / self.expected, 1.0):.0%} of about {self.expected}, about {eta} left"
        self.lines.append(line)
        log.info("%s", line)


def sync_rows(batches: Iterable[list[tuple[Any, ...]]], encode: Encode, send: Send, progress: Progress) -> ChunkResult:
    """
    Encode and send every row of every batch; the caller commits. Returns the rows sent and their checksum
    (a row `send` did not produce, being too large for Kafka, counts in neither).
    """
    rows = 0
    total = 0
    crc32 = zlib.crc32
    for batch in batches:
        sent = len(batch)
        for row in batch:
            key, value = encode(row)
            if send(key, value) is False:
                sent -= 1
            else:
                total += crc32(value)
        rows += sent
        progress.update(rows)
    progress.update(rows, force=True)
    return ChunkResult(rows, total & CHECKSUM_MASK)


def row_encoder(serializer: Serializer, ctx: TableContext) -> Encode:
    """Row tuple (in `ctx.image_columns` order) → (Kafka key, message value) as a full-sync ROW change."""
    database, table, columns, key_columns = ctx.database, ctx.table, ctx.image_columns, ctx.key_columns
    record = record_function(serializer, ctx)

    def encode(row: tuple[Any, ...]) -> tuple[bytes | None, bytes]:
        return record(RowChange(database, table, RecordType.ROW, columns, None, row, key_columns))

    return encode


def commit_chunk(
    sink: TransactionalSink, topic: str, rule: PartitionRule, batches: Iterable[list[tuple[Any, ...]]],
    encode: Encode, progress: Progress, done: tuple[str, Callable[[ChunkResult], dict[str, Any]]],
    guard: OversizeGuard | None = None,
) -> ChunkResult:  # fmt: skip
    """
    Encode and produce every row of a chunk into `topic`, then its done-record (`done`: the checkpoint key,
    and the record of a result), in one Kafka transaction: all of it is visible to `read_committed`
    consumers, or none (aborted on any error). `guard`: the table's policy for a row too large for Kafka.
    """
    send, producer = sink.sender(topic, rule, guard), sink.producer

    def polled(rows: Iterable[list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
        for batch in rows:
            yield batch
            producer.poll(0)  # serve delivery reports (only failures are reported)

    sink.begin()
    try:
        result = sync_rows(polled(batches), encode, send, progress)
        sink.checkpoint(done[0], done[1](result))
        sink.commit()
    except BaseException:
        sink.abort()
        if guard is not None:
            guard.counts.drop()
        raise
    if guard is not None:
        guard.counts.settle()
    return result
