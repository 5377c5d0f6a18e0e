"""
Copying one change-log range `[start, end)` in batches: the pure loop of incremental and backfill production.

The reader is positioned at `start`; `copy_range` sends every in-scope change of the transactions that start
before `end`, and calls `on_batch(position)` at a commit once `batch_size` changes were sent since the last
batch (the caller commits a Kafka transaction with the checkpoint `position` there). `end` is a resume point
(the end of a commit or of a standalone statement) as the trigger or `engine/binlog/seek.py` reported it.

A source transaction larger than a Kafka transaction may hold (`Slices.limit` changes) is split: `Slices`
calls `on_split(position, changes)` inside it, where `position` is the last resume point read (the
transaction's start) and `changes` how many in-scope changes after it are sent; the caller commits them with
that checkpoint. A reader started again at `position` skips that many changes (`Slices.skip`): exactly once.

A range without an end (a streaming worker's, reading a blocking dump with `Resume` markers) is paced by
`Pace`: its Kafka transaction is committed at each idle heartbeat and at the first transaction end once it
is `flush_s` old (so a change is visible within about that long, whatever the batch size), and the range
ends once no change was sent for `idle_s`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_obkafka.engine.binlog.transactions import Commit, Resume, SchemaChange, StreamItem
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.models.position import BinlogPosition

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["Pace", "Slices", "copy_range", "transaction_start"]


def transaction_start(change: RowChange) -> BinlogPosition:
    """Where the change's transaction starts (its `checkpoint`, `file:position`)."""
    assert change.checkpoint is not None  # set on every incremental change
    file, _, offset = change.checkpoint.rpartition(":")
    return BinlogPosition(file=file, position=int(offset))


@dataclass
class Slices:
    """
    Kafka transactions inside a source transaction: at most `limit` changes each.

    :param at: the last resume point read (a commit's end, a statement's end, or where reading started)
    :param on_split: commit the open Kafka transaction with the checkpoint `(at, changes sent after at)`
    :param limit: changes per Kafka transaction (None: a source transaction is never split)
    :param skip: changes after `at` that an earlier try committed: read, not sent again
    """

    at: BinlogPosition
    on_split: Callable[[BinlogPosition, int], None] = lambda _at, _changes: None
    limit: int | None = None
    skip: int = 0
    since: int = 0  # changes read after `at`
    in_slice: int = 0  # changes sent in the open Kafka transaction

    def admit(self) -> bool:
        """Count a change read; False when an earlier try committed it (it is not sent again)."""
        self.since += 1
        return self.since > self.skip

    def sent(self) -> None:
        """A change was sent: split the source transaction here when the Kafka transaction is full."""
        self.in_slice += 1
        if self.limit is not None and self.in_slice >= self.limit:
            self.on_split(self.at, self.since)
            self.in_slice = 0

    def boundary(self, position: BinlogPosition, committed: bool) -> None:
        """A resume point read (`committed`: the open Kafka transaction was committed there too)."""
        self.at, self.since, self.skip = position, 0, 0
        if committed:
            self.in_slice = 0


@dataclass
class Pace:
    """
    When a range without an end commits (besides `batch_size`) and when it ends (see the module docstring).

    :param flush_s: a Kafka transaction is committed at the first transaction end once it is this old
    :param idle_s: the range ends at a heartbeat or transaction end once no change was sent for this long
    :param clock: monotonic seconds (injected in tests)
    :param on_quiet: called with nothing pending, at most once per `flush_s`: at an idle heartbeat with None
        (the log is read to its end), at other tables' commits with the commit's time (µs, how far behind)
    """

    flush_s: float
    idle_s: float
    clock: Callable[[], float] = time.monotonic
    on_quiet: Callable[[int | None], None] = lambda _commit_us: None
    opened: float = 0.0  # when the open Kafka transaction got its first change
    active: float = 0.0  # when a change was last committed (or the range began)
    reported: float = float("-inf")  # when `on_quiet` was last called

    def start(self) -> None:
        """The range begins: idle from now on."""
        self.active = self.clock()

    def due(self, in_batch: int) -> bool:
        """At a transaction end: commit the open Kafka transaction now (it is `flush_s` old)?"""
        return in_batch > 0 and self.clock() - self.opened >= self.flush_s

    def idle(self) -> bool:
        """Nothing is pending: has no change come for `idle_s`?"""
        return self.clock() - self.active >= self.idle_s

    def quiet(self, commit_us: int | None) -> None:
        """Nothing is pending: report it (`on_quiet`), at most once per `flush_s`."""
        now = self.clock()
        if now - self.reported >= self.flush_s:
            self.reported = now
            self.on_quiet(commit_us)


def copy_range(
    items: Iterable[StreamItem],
    end: BinlogPosition | None,
    *,
    send: Callable[[RowChange], int],
    on_batch: Callable[[BinlogPosition], None],
    on_schema_change: Callable[[SchemaChange], None] = lambda _change: None,
    batch_size: int | None = None,
    position: Callable[[], BinlogPosition] | None = None,
    slices: Slices | None = None,
    pace: Pace | None = None,
) -> int:
    """
    Send the changes of the transactions that start before `end`; returns how many `send` counted.

    Stops at the commit that ends at `end` (or at the first item past it). `on_batch` is called at commits
    inside the range once `batch_size` changes accumulated; never at `end` itself (the caller closes the
    last batch). `slices` splits big source transactions and skips what an earlier try committed (see the
    module docstring). Raises CheckpointError when `end` lies inside a transaction or the log ends before it;
    `position()` gives the reader's resume point when the items run out (statements of other tables move
    it without an item). Without `end`, `pace` says when to commit and when to stop (see the module
    docstring); it stops at a resume point (the reader's position), where the caller commits what is open.
    """
    if end is None:
        assert pace is not None  # an open range is paced
        slices = slices or Slices(BinlogPosition.model_construct(file="", position=0))  # never split
        return _stream(items, send=send, on_batch=on_batch, on_schema_change=on_schema_change,
                       batch_size=batch_size, slices=slices, pace=pace)  # fmt: skip
    stop = end.sort_key()
    slices = slices or Slices(end)
    produced = in_batch = 0
    last = None
    checkpoint, past_end = None, False  # a transaction's changes share their checkpoint: parse it once
    for item in items:
        if isinstance(item, RowChange):
            if item.checkpoint != checkpoint:
                checkpoint, past_end = item.checkpoint, transaction_start(item).sort_key() >= stop
            if past_end:
                return produced
            if not slices.admit():
                continue
            sent = send(item)
            produced, in_batch = produced + sent, in_batch + sent
            slices.sent()
        elif isinstance(item, SchemaChange):
            if item.position.sort_key() > stop:
                return produced
            on_schema_change(item)
            last = item.position
            slices.boundary(last, False)
            if last.sort_key() == stop:
                return produced
        elif isinstance(item, Commit):
            if item.end.sort_key() == stop or item.start.sort_key() >= stop:
                return produced
            if item.end.sort_key() > stop:
                raise CheckpointError(
                    f"the change-log range ends at {end.file}:{end.position}, inside the transaction "
                    f"{item.transaction_id} ({item.start.file}:{item.start.position} to "
                    f"{item.end.file}:{item.end.position}): that position is not a transaction boundary"
                )
            last = item.end
            batched = batch_size is not None and in_batch >= batch_size
            if batched:
                on_batch(item.end)
                in_batch = 0
            slices.boundary(last, batched)
    final = position() if position is not None else last
    if final is not None and final.sort_key() >= stop:
        return produced
    raise CheckpointError(f"the change log ended before the reported position {end.file}:{end.position}")


def _stream(
    items: Iterable[StreamItem],
    *,
    send: Callable[[RowChange], int],
    on_batch: Callable[[BinlogPosition], None],
    on_schema_change: Callable[[SchemaChange], None],
    batch_size: int | None,
    slices: Slices,
    pace: Pace,
) -> int:
    """`copy_range` without an end: batches by size, age (`pace.due`) and idle heartbeats, until `pace.idle`."""
    produced = in_batch = 0
    pace.start()
    for item in items:
        if isinstance(item, RowChange):
            if not slices.admit():
                continue
            if in_batch == 0:
                pace.opened = pace.clock()
            sent = send(item)
            produced, in_batch = produced + sent, in_batch + sent
            slices.sent()
        elif isinstance(item, Commit):
            batched = (batch_size is not None and in_batch >= batch_size) or pace.due(in_batch)
            if batched:
                on_batch(item.end)
                in_batch, pace.active = 0, pace.clock()
            slices.boundary(item.end, batched)
            if in_batch == 0:
                pace.quiet(item.commit_ts_us)
                if pace.idle():
                    return produced
        elif isinstance(item, Resume):
            if not item.idle:
                continue
            if in_batch:
                on_batch(item.position)
                in_batch, pace.active = 0, pace.clock()
            slices.boundary(item.position, True)
            pace.reported = float("-inf")  # read to the end: always said
            pace.quiet(None)
            if pace.idle():
                return produced
        elif isinstance(item, SchemaChange):
            on_schema_change(item)
            slices.boundary(item.position, False)
    # a blocking dump ends only when the server ends it, maybe inside a transaction: what is open is not
    # committed (the caller aborts), and the stream is started again from its checkpoint (transient)
    raise ConnectionError("the change log's dump ended before the stream went idle")
