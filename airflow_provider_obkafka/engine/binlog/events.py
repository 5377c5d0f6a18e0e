"""
Binlog events turned into transactions, without any binlog library: the pure half of the binlog reader.

`engine/binlog/reader.py` parses raw binlog events into the small neutral events below (`LogBegin`,
`LogQuery`, `LogCommit`; a rows event goes straight to `ChangeGrouper.changes`, `LogRows` is its form for
event lists); `stream_changes` groups them into numbered `RowChange`s, `Commit` markers and `SchemaChange`s,
one row at a time (bounded memory), and `group_transactions` collects them into whole `Transaction`s. Unit
tests feed plain lists.

Commit timestamps (`commit_ts_us`, µs since the epoch, UTC):

* MySQL / MariaDB: the XID event's header timestamp (seconds) * 1e6 (`header_commit_ts_us`).
* OceanBase Binlog Service: obbinlog writes the OceanBase commit time into the GTID event's logical-clock
  fields, `last_committed` (seconds) and `sequence_number` (µs fraction), so
  `last_committed * 1e6 + sequence_number` (`ob_commit_ts_us`), exact to the µs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_obkafka.engine.binlog.ddl import parse_ddl, statement_head
from airflow_provider_obkafka.engine.binlog.handoff import plausible_commit_us
from airflow_provider_obkafka.engine.binlog.transactions import (
    Commit,
    SchemaChange,
    StreamItem,
)
from airflow_provider_obkafka.engine.changes.change import Image, RecordType, RowChange
from airflow_provider_obkafka.engine.changes.slots import slot_setting_init

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = [
    "LogBegin", "LogCommit", "LogEvent", "LogQuery", "LogRows", "Scope", "header_commit_ts_us", "ob_commit_ts_us",
    "stream_changes",
]  # fmt: skip

log = logging.getLogger(__name__)
InScope = Callable[[str, str], bool]


def ob_commit_ts_us(last_committed: int, sequence_number: int) -> int:
    """OceanBase commit time in µs from a GTID event: `last_committed` seconds + `sequence_number` µs."""
    return last_committed * 1_000_000 + sequence_number


def header_commit_ts_us(timestamp_s: int) -> int:
    """MySQL/MariaDB commit time in µs from the XID event's header timestamp (whole seconds)."""
    return timestamp_s * 1_000_000


class Scope:
    """
    Which tables are synchronized: a set of `(database, table)` or a predicate `in_scope(database, table)`.
    A predicate must depend on the names only: it is asked once per table (rows events ask per event, and
    a project's pattern matching costs more than decoding a small row).

    :param tables: the set of in-scope tables, or a predicate
    """

    def __init__(self, tables: Iterable[tuple[str, str]] | InScope) -> None:
        self._test: InScope
        if callable(tables):
            self._test = _memoized(tables)
            self.tables: frozenset[tuple[str, str]] | None = None
        else:
            self.tables = frozenset((db, table) for db, table in tables)
            self._test = lambda db, table: (db, table) in self.tables  # type: ignore[operator]

    def __call__(self, database: str, table: str) -> bool:
        return self._test(database, table)


def _memoized(predicate: InScope) -> InScope:
    """`predicate` asked once per `(database, table)`."""
    answers: dict[tuple[str, str], bool] = {}

    def test(database: str, table: str) -> bool:
        found = answers.get((database, table))
        if found is None:
            found = answers[database, table] = bool(predicate(database, table))
        return found

    return test


# ---------------------------------------------------------------- neutral events (reader -> grouping)
@dataclass(frozen=True, slots=True)
class LogBegin:
    """
    A GTID event. `opens` when it starts a transaction by itself (MariaDB); MySQL/OB send a BEGIN query.
    `executed`: the transaction is in the set the read started after (sent again, see `gtid.py`): skipped.
    """

    gtid: str | None
    timestamp: int
    ob_commit_ts_us: int | None = None
    opens: bool = False
    executed: bool = False


@slot_setting_init  # one per rows event: built without object.__setattr__ per field
@dataclass(frozen=True, slots=True)
class LogRows:
    """An in-scope rows event: its table, kind, image columns, and `(before, after)` images (lazy)."""

    database: str
    table: str
    record_type: RecordType
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    images: Iterable[tuple[Image | None, Image | None]]
    timestamp: int


@dataclass(frozen=True, slots=True)
class LogQuery:
    """A QUERY event: its text, default database, and the position after it."""

    statement: str
    schema: str
    timestamp: int
    end: BinlogPosition


@dataclass(frozen=True, slots=True)
class LogCommit:
    """An XID event (or a `COMMIT` query): the position after it is the resume checkpoint."""

    xid: int | None
    timestamp: int
    end: BinlogPosition


LogEvent = LogBegin | LogRows | LogQuery | LogCommit


class ChangeGrouper:
    """
    Turns neutral log events into numbered `RowChange`s, `Commit`s and `SchemaChange`s.

    :param scope: which tables DDL is reported for (rows arrive already filtered)
    :param start: the position reading started at (the first transaction's start)
    :param oceanbase_commit_ts: take commit times from the GTID event (OceanBase), else from the XID header
    :param skip_committed_before_us: leave out the changes of transactions whose exact OceanBase commit time
        (GTID event, `engine/binlog/handoff.py`) is before this; counted in `skipped_changes`
    """

    def __init__(
        self, scope: Scope, start: BinlogPosition, *, oceanbase_commit_ts: bool = False,
        skip_committed_before_us: int | None = None,
    ) -> None:  # fmt: skip
        self.scope = scope
        self.position = start
        self.oceanbase_commit_ts = oceanbase_commit_ts
        self.skip_committed_before_us = skip_committed_before_us
        self.skipped_changes = 0
        self._reset(start)

    def _reset(self, position: BinlogPosition) -> None:
        self.position = position
        self._gtid: str | None = None
        self._begin_ts: int | None = None
        self._ob_ts: int | None = None
        self._open = False
        self._count = 0
        self._stamp: tuple[int, str, str] | None = None  # commit time, transaction id, checkpoint
        self._skipping = False  # the transaction is in the full sync's snapshot
        self._executed = False  # the transaction was read before (in the start's GTID set)

    @property
    def in_transaction(self) -> bool:
        """A transaction has begun (GTID, BEGIN or a row) and not yet committed."""
        return self._open or self._gtid is not None

    def feed(self, event: LogEvent) -> Iterator[StreamItem]:
        """The items one event gives (none for BEGIN, one per row, a Commit, SchemaChanges)."""
        if isinstance(event, LogRows):
            return iter(self.row_changes(event))
        if isinstance(event, LogCommit):
            return iter((self._commit(event.xid, event.timestamp, event.end),))
        if isinstance(event, LogQuery):
            return self._query(event)
        self._gtid, self._begin_ts, self._ob_ts = event.gtid, event.timestamp, event.ob_commit_ts_us
        self._open, self._count, self._stamp, self._executed = event.opens, 0, None, event.executed
        return iter(())

    def _transaction_id(self) -> str:
        return self._gtid or f"{self.position.file}:{self.position.position}"

    def row_changes(self, event: LogRows) -> list[RowChange]:
        """The numbered changes of one rows event (as many as the event holds: its size bounds them)."""
        return self.changes(event.database, event.table, event.record_type, event.columns, event.key_columns,
                            event.images, event.timestamp)  # fmt: skip

    def changes(
        self, database: str, table: str, kind: RecordType, columns: tuple[str, ...], key: tuple[str, ...],
        images: Iterable[tuple[Image | None, Image | None]], timestamp: int,
    ) -> list[RowChange]:  # fmt: skip
        """`row_changes` of a rows event given by its parts (the reader's hot path builds no `LogRows`)."""
        self._open = True
        if self._executed:
            return []
        stamp = self._stamp
        if stamp is None:  # once per transaction
            ts = self._ob_ts if self.oceanbase_commit_ts and self._ob_ts is not None else None
            ts = ts if ts is not None else header_commit_ts_us(self._begin_ts or timestamp)
            stamp = self._stamp = (ts, self._transaction_id(), f"{self.position.file}:{self.position.position}")
            self._skipping = self._in_snapshot(timestamp)
        if self._skipping:
            self.skipped_changes += sum(1 for _ in images)
            return []
        ts, txn, checkpoint = stamp
        count = self._count
        changes = []
        for before, after in images:
            count += 1
            changes.append(RowChange(database, table, kind, columns, before, after, key, ts, checkpoint, txn, count))
        self._count = count
        return changes

    def _in_snapshot(self, event_time_s: int) -> bool:
        """Whether the open transaction's exact commit time puts it in the full sync's snapshot."""
        cutoff, commit_us = self.skip_committed_before_us, self._ob_ts
        if cutoff is None or commit_us is None or commit_us >= cutoff:
            return False
        return plausible_commit_us(commit_us, self._begin_ts or event_time_s)

    def _commit(self, xid: int | None, timestamp: int, end: BinlogPosition) -> Commit:
        ob = self.oceanbase_commit_ts and self._ob_ts is not None
        ts = self._ob_ts if ob else header_commit_ts_us(timestamp)
        commit = Commit(self._transaction_id(), xid, ts, self.position, end, self._count)  # type: ignore[arg-type]
        self._reset(end)
        return commit

    def _query(self, event: LogQuery) -> Iterator[StreamItem]:
        head = statement_head(event.statement).rstrip(" ;\n\t").upper()
        if head in ("BEGIN", "START TRANSACTION"):
            self._open = True
            return
        if head == "COMMIT":
            yield self._commit(None, event.timestamp, event.end)
            return
        if self._open:
            log.debug("statement inside a transaction ignored at %s:%s", event.end.file, event.end.position)
            return
        yield from self._schema_changes(event)
        self._reset(event.end)

    def _schema_changes(self, event: LogQuery) -> Iterator[SchemaChange]:
        ob = self.oceanbase_commit_ts and self._ob_ts is not None
        commit_us = self._ob_ts if ob else header_commit_ts_us(event.timestamp)
        for target in parse_ddl(event.statement, event.schema):
            new = target.new_ref
            old_in, new_in = self.scope(*target.ref), new is not None and self.scope(*new)
            if not (old_in or new_in):
                continue
            if new is not None and old_in and not new_in:
                log.warning("table %s was renamed to %s, which is out of scope: no longer synced", target.ref, new)
            yield SchemaChange(
                target.ref.database, target.ref.table, target.kind, event.statement, event.end, new,
                out_of_scope=new is not None and not new_in, commit_ts_us=commit_us,  # type: ignore[arg-type]
            )  # fmt: skip


def stream_changes(
    events: Iterable[LogEvent], scope: Scope, start: BinlogPosition, *, oceanbase_commit_ts: bool = False,
    skip_committed_before_us: int | None = None,
) -> Iterator[StreamItem]:  # fmt: skip
    """`ChangeGrouper` over an event list: the pure core of `BinlogReader.iter_changes`."""
    grouper = ChangeGrouper(scope, start, oceanbase_commit_ts=oceanbase_commit_ts,
                            skip_committed_before_us=skip_committed_before_us)  # fmt: skip
    for event in events:
        yield from grouper.feed(event)
