"""
Verifying incremental synchronization: the final state per key, rebuilt from the topic, equals the table.

The topic is replayed as a `read_committed` consumer sees it: per key the last message wins (a full-sync ROW,
an INSERT or an UPDATE sets the row, a DELETE removes it; an UPDATE that changes the key removes the old key).
A key keeps to one partition while its Kafka key does; when it moves (shard columns changed), the message
with the later timestamp wins.

Consistency: the table keeps changing, so both sides are compared at a settled point. Before each comparison
`StateIo.settle()` notes the source's log position and waits until the project's incremental checkpoint has
reached it, so everything committed before the table is read is in the topic. A change made while the two sides
are read can still show as a difference; such a key is compared again (`rechecks` times, each after a new
settle), and only a key that differs in every attempt is reported.

Memory: keys are split by a hash of their identity into `buckets` so that one bucket holds at most `max_keys`
keys; each bucket is one pass over the topic and the table, holding that bucket's keys only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airflow_provider_obkafka.engine.verify.full import topic_rows
from airflow_provider_obkafka.engine.verify.keys import add_digest, bucket_of
from airflow_provider_obkafka.engine.verify.messages import Kind
from airflow_provider_obkafka.engine.verify.report import Difference, DiffKind, RangeFigures

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_obkafka.engine.verify.check import Read, TableCheck, TopicMessage
    from airflow_provider_obkafka.engine.verify.messages import ParsedMessage
    from airflow_provider_obkafka.engine.verify.report import VerifyReport

__all__ = ["StateIo", "verify_state"]

_KINDS = frozenset({Kind.ROW, Kind.INSERT, Kind.UPDATE, Kind.DELETE})


class StateIo(Protocol):
    """What the final-state verification reads."""

    def messages(self, topic: str) -> Iterable[TopicMessage]:
        """Every committed message of `topic`, once."""
        ...

    def table_rows(self, check: TableCheck) -> Iterable[list[tuple[Any, ...]]]:
        """The table's current rows, in `check.ctx.image_columns` order, in batches."""
        ...

    def count_rows(self, check: TableCheck) -> int:
        """The table's row count (or an estimate), to size the buckets."""
        ...

    def settle(self) -> str:
        """Wait until the topic holds what the source logged before now; the point reached, as text."""
        ...


class _Last(NamedTuple):
    """A key's last message: its state digest (None: deleted), where it is and when it was written."""

    digest: int | None
    partition: int
    offset: int
    timestamp_ms: int


def verify_state(
    checks: Iterable[TableCheck], io: StateIo, report: VerifyReport, *, max_keys: int = 1_000_000, rechecks: int = 2
) -> VerifyReport:
    """Compare every table's final state in the topic with the table, bucket by bucket."""
    for check in checks:
        if not check.keys.columns:
            report.notes.append(f"{check.name}: no primary key or NOT NULL unique key, so no state per key: "
                                "not compared (a full verify compares it)")  # fmt: skip
            continue
        buckets = max(1, math.ceil(io.count_rows(check) / max_keys))
        _verify_table(check, io, report, buckets, rechecks)
    return report


def _verify_table(check: TableCheck, io: StateIo, report: VerifyReport, buckets: int, rechecks: int) -> None:
    """Compare every bucket, then compare again the buckets that differ, keeping the keys that differ each time."""
    pending = list(range(buckets))
    found: dict[int, dict[bytes, Difference]] = {}
    figures: dict[int, RangeFigures] = {}
    for attempt in range(rechecks + 1):
        point = io.settle()
        for bucket in pending:
            figures[bucket], diffs = _compare_bucket(check, io, bucket, buckets)
            found[bucket] = diffs if attempt == 0 else {k: v for k, v in diffs.items() if k in found[bucket]}
        report.point = f", at {point}"
        pending = [bucket for bucket in pending if found[bucket] and not figures[bucket].equal]
        if not pending:
            break
        report.notes.append(f"{check.name}: {len(pending)} bucket(s) differ at {point}; compared again "
                            f"({attempt + 1} of {rechecks} recheck(s))" if attempt < rechecks else
                            f"{check.name}: differences remain after {rechecks} recheck(s)")  # fmt: skip
    for bucket in range(buckets):
        report.figures.append(figures[bucket])
        for difference in found[bucket].values():
            report.add(difference)
        if not found[bucket] and not figures[bucket].equal:
            report.notes.append(f"{check.name} {figures[bucket].range}: other keys differed in each attempt: "
                                "the table changes faster than the comparison settles; verify at a quieter time")


def _bucket_name(bucket: int, buckets: int) -> str:
    return f"bucket {bucket + 1} of {buckets}"


def _replay(check: TableCheck, io: StateIo, bucket: int, buckets: int) -> dict[bytes, _Last]:
    """The last message of every key of the bucket, from the topic."""
    state: dict[bytes, _Last] = {}

    def put(identity: bytes, digest: int | None, message: TopicMessage) -> None:
        if bucket_of(identity, buckets) != bucket:
            return
        last = state.get(identity)
        if last is None or last.partition == message.partition or message.timestamp_ms >= last.timestamp_ms:
            state[identity] = _Last(digest, message.partition, message.offset, message.timestamp_ms)

    for _, parsed, read, message in topic_rows(check.topic, [check], io.messages(check.topic), kinds=_KINDS):
        if parsed.kind == Kind.DELETE:
            put(read.identity, None, message)
            continue
        old = _old_identity(check, parsed, read)
        if old is not None:
            put(old, None, message)
        put(read.identity, read.digest, message)
    return state


def _old_identity(check: TableCheck, parsed: ParsedMessage, read: Read) -> bytes | None:
    """The before image's identity of an UPDATE that changed the key, else None."""
    if parsed.kind != Kind.UPDATE or parsed.before is None or not check.keys.in_image:
        return None
    before = check.read_image(parsed, parsed.before)
    return before.identity if before.identity != read.identity else None


def _compare_bucket(
    check: TableCheck, io: StateIo, bucket: int, buckets: int
) -> tuple[RangeFigures, dict[bytes, Difference]]:
    """One bucket on both sides: its figures and its differing keys."""
    where = _bucket_name(bucket, buckets)
    state = _replay(check, io, bucket, buckets)
    diffs: dict[bytes, Difference] = {}
    rows = source_sum = topic_sum = 0
    live = sum(1 for last in state.values() if last.digest is not None)
    for batch in io.table_rows(check):
        for row in batch:
            read = check.read_row(row)
            if bucket_of(read.identity, buckets) != bucket:
                continue
            rows, source_sum = rows + 1, add_digest(source_sum, read.digest)
            last = state.pop(read.identity, None)
            key = check.keys.describe(read.identity)
            if last is None or last.digest is None:
                detail = (
                    "never written" if last is None else f"deleted at partition {last.partition} offset {last.offset}"
                )
                diffs[read.identity] = Difference(
                    DiffKind.MISSING, check.name, where, key, f"the topic's state: {detail}"
                )
                continue
            topic_sum = add_digest(topic_sum, last.digest)
            if last.digest != read.digest:
                detail = (
                    f"the topic's last message (partition {last.partition} offset {last.offset}) differs from the row"
                )
                diffs[read.identity] = Difference(DiffKind.DIFFERENT, check.name, where, key, detail)
    for identity, last in state.items():
        if last.digest is not None:
            topic_sum = add_digest(topic_sum, last.digest)
            detail = f"no such row in the table; last message at partition {last.partition} offset {last.offset}"
            diffs[identity] = Difference(DiffKind.EXTRA, check.name, where, check.keys.describe(identity), detail)
    return RangeFigures(check.name, where, rows, live, source_sum, topic_sum), diffs
