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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_obkafka.engine.binlog.transactions import Commit, SchemaChange, StreamItem
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.models.position import BinlogPosition

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["Slices", "copy_range", "transaction_start"]


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


def copy_range(
    items: Iterable[StreamItem],
    end: BinlogPosition,
    *,
    send: Callable[[RowChange], int],
    on_batch: Callable[[BinlogPosition], None],
    on_schema_change: Callable[[SchemaChange], None] = lambda _change: None,
    batch_size: int | None = None,
    position: Callable[[], BinlogPosition] | None = None,
    slices: Slices | None = None,
) -> int:
    """
    Send the changes of the transactions that start before `end`; returns how many `send` counted.

    Stops at the commit that ends at `end` (or at the first item past it). `on_batch` is called at commits
    inside the range once `batch_size` changes accumulated; never at `end` itself (the caller closes the
    last batch). `slices` splits big source transactions and skips what an earlier try committed (see the
    module docstring). Raises CheckpointError when `end` lies inside a transaction or the log ends before it;
    `position()` gives the reader's resume point when the items run out (statements of other tables move
    it without an item).
    """
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
