"""
What the binlog readers give: `Commit` markers, `SchemaChange`s and whole `Transaction`s.

`engine/binlog/events.py` (`stream_changes`) yields `RowChange`s, `Commit`s and `SchemaChange`s one at a
time; `group_transactions` collects them into whole `Transaction`s. No binlog library; unit tests feed
plain lists. The reader (`engine/binlog/reader.py`) groups events into them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from airflow_provider_obkafka.engine.changes.change import RowChange

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from airflow_provider_obkafka.models.position import BinlogPosition
    from airflow_provider_obkafka.models.schema import TableRef

__all__ = ["Commit", "Resume", "SchemaChange", "StreamItem", "Transaction", "group_transactions"]


# ---------------------------------------------------------------- what readers get
@dataclass(frozen=True, slots=True)
class Commit:
    """
    The end of a transaction in `stream_changes` output.

    :param transaction_id: the GTID, else `file:position` of the transaction's start
    :param xid: the XID, when the commit was an XID event
    :param commit_ts_us: the commit time (see the `engine.binlog.events` module docstring)
    :param start: where the transaction starts (the previous resume point)
    :param end: the position after the commit: the resume checkpoint
    :param changes: how many in-scope changes the transaction had
    """

    transaction_id: str
    xid: int | None
    commit_ts_us: int
    start: BinlogPosition
    end: BinlogPosition
    changes: int


@dataclass(frozen=True, slots=True)
class Resume:
    """
    A resume point that carries no change, given only to a reader asked for them (`markers`): the end of
    the log reached with no transaction open (a heartbeat: `idle`), or a ROTATE at a transaction boundary
    (`position` is then the next file's start, where a reader may resume without reading the old file).

    :param position: where reading may resume
    :param idle: the server had nothing more to send (a heartbeat)
    """

    position: BinlogPosition
    idle: bool


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """
    A DDL statement on an in-scope table; `position` (after the statement) is a resume checkpoint.

    :param database: the table's database
    :param table: the table's name (the old name of a rename)
    :param kind: ALTER, CREATE, DROP, RENAME or TRUNCATE
    :param statement: the statement text as logged
    :param position: the position after the statement
    :param renamed_to: the new name of a RENAME, else None
    :param out_of_scope: the table left the scope (renamed to an out-of-scope name)
    :param commit_ts_us: when the statement committed (µs; as a `Commit`'s), 0 when unknown
    """

    database: str
    table: str
    kind: str
    statement: str
    position: BinlogPosition
    renamed_to: TableRef | None = None
    out_of_scope: bool = False
    commit_ts_us: int = 0


@dataclass(frozen=True, slots=True)
class Transaction:
    """
    One committed transaction with its in-scope changes, numbered 1..n in log order.

    :param changes: the changes, each with `commit_ts_us`, `transaction_id` and `sequence` set
    :param commit_ts_us: the commit time
    :param transaction_id: the GTID, else `file:position` of the start
    :param xid: the XID, when known
    :param start: the position the transaction starts at
    :param end: the position after its commit: the resume checkpoint
    """

    changes: list[RowChange]
    commit_ts_us: int
    transaction_id: str
    xid: int | None
    start: BinlogPosition
    end: BinlogPosition


StreamItem = RowChange | Commit | SchemaChange | Resume


def group_transactions(
    items: Iterable[StreamItem], max_changes: int | None = None, *, include_empty: bool = False
) -> Iterator[Transaction | SchemaChange]:
    """
    Whole transactions (their changes carrying the final commit time) and schema changes, in log order.
    Stops after the transaction that brings the change count to `max_changes`; skips transactions without
    in-scope changes unless `include_empty`.
    """
    changes: list[RowChange] = []
    total = 0
    for item in items:
        if isinstance(item, RowChange):
            changes.append(item)
            continue
        if isinstance(item, SchemaChange):
            yield item
            continue
        assert isinstance(item, Commit)  # no Resume markers: the reader gives them only when asked
        if changes and changes[0].commit_ts_us != item.commit_ts_us:
            changes = [replace(change, commit_ts_us=item.commit_ts_us) for change in changes]
        if changes or include_empty:
            yield Transaction(changes, item.commit_ts_us, item.transaction_id, item.xid, item.start, item.end)
        total += len(changes)
        changes = []
        if max_changes is not None and total >= max_changes:
            return
