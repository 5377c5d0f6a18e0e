"""
The binlog reader: raw events off the wire (`engine/binlog/wire.py`) parsed into the neutral events of
`engine/binlog/events.py` (`LogBegin`, `LogQuery`, `LogCommit`; rows events go to `ChangeGrouper.changes`
without a `LogRows`), which leave as `RowChange`, `Commit`, `SchemaChange` and `Transaction`.

The hot path is parsed here, by hand: the event header, the TABLE_MAP (recognised by its bytes,
`engine/binlog/tables.py`), the rows event (decoded by the compiled decoder, `engine/binlog/rows.py`), GTID,
QUERY, XID and ROTATE. The library parses only what is rare: a new TABLE_MAP, the FORMAT_DESCRIPTION, and
rows the compiled decoder does not cover (a dump's decoders: `engine/binlog/decoders.py`; the file and GTID
set read to: `engine/binlog/positions.py`).

The OceanBase Binlog Service's quirks this reader handles are listed in the package docstring
(`engine/binlog/__init__.py`).

Column names come from the TABLE_MAP when the server logs them (`binlog_row_metadata=FULL`), else from the
injected `describe(database, table)`; the described schema also supplies UNSIGNED and ENUM/SET members the
TABLE_MAP lacks then. TIMESTAMP values are naive UTC datetimes. Zero dates and empty SETs come back as the
server's text.
"""

from __future__ import annotations

import logging
import zlib
from typing import TYPE_CHECKING, Any

# Packed imports (`fmt: skip`) keep their layout: isort would write one name a line.
# isort: off
from airflow_provider_obkafka.engine.binlog.decoders import CRC32_RESIDUE, StreamDecoders, in_use_crc
from airflow_provider_obkafka.engine.binlog.events import ChangeGrouper, LogBegin, LogCommit, LogEvent, LogQuery, Scope
from airflow_provider_obkafka.engine.binlog.parse import (
    ARTIFICIAL, COMPRESSED_QUERY, COMPRESSED_ROWS, FILE_START, FORMAT_DESCRIPTION, GTID, HEADER, HEARTBEATS,
    MARIADB_GTID, QUERY, ROTATE, ROWS, TABLE_MAP, XID, gtid, mariadb_gtid, query, rotate_file, table_id, unreadable,
)  # fmt: skip
from airflow_provider_obkafka.engine.binlog.positions import LogPositions
from airflow_provider_obkafka.engine.binlog.transactions import (
    Resume, SchemaChange, StreamItem, Transaction, group_transactions,
)  # fmt: skip
from airflow_provider_obkafka.engine.binlog.wire import DumpStream
from airflow_provider_obkafka.exceptions import UnsupportedEventError
# isort: on

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from airflow_provider_obkafka.engine.binlog.tables import Describe
    from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = ["BinlogReader"]

log = logging.getLogger(__name__)


class BinlogReader:
    """
    Reads committed transactions of in-scope tables from a binlog position (MySQL replication protocol).

    :param settings: host, port, user, password, charset (and ssl) of the binlog endpoint
        (`OceanBaseHook.binlog_connection_settings()`)
    :param server_id: the replica id this reader registers with; stable per project, never random
    :param start: where to start: the next event to read (a transaction boundary)
    :param tables: the in-scope tables as `(database, table)` pairs, or a predicate `in_scope(db, table)`
    :param describe: `describe(database, table) -> TableSchema`, used when the binlog lacks column names
        (and for keys without binlog metadata)
    :param blocking: wait for new events (True) or stop at the end of the log (False)
    :param heartbeat_s: heartbeat period asked of the server, seconds
    :param oceanbase_commit_ts: take commit times from the GTID event (OceanBase Binlog Service)
    :param skip_committed_before_us: leave out the changes of transactions whose exact OceanBase commit time
        (GTID event) is before this, in µs: the full sync's snapshot holds them (`engine/binlog/handoff.py`)
    :param count_only: rows are counted, not decoded (`engine/binlog/count.py`): changes carry no images
    :param fast_rows: decode rows with the compiled decoder (False: with the library's, to compare them)
    :param checksum: ask the server for CRC32 checksums when its binlog has them; either way, each file's
        FORMAT_DESCRIPTION says whether its events carry one, and they are verified when they do
    :param by_gtid: start after `start.gtid_set` (the server finds where), not at `start`'s file position
    :param markers: also yield a `Resume` at each heartbeat and each ROTATE met with no transaction open
        (a long-lived blocking stream learns from them that it has caught up, and where it may resume)
    :param stop_at: end the read once the resume position reaches this (a range's end), or when caught up
        before it: a blocking dump then reads a range across every file without waiting past it

    When `start` has a GTID set, every position the reader gives (commit ends, DDL positions) carries the
    executed GTID set at that point: the start's set plus each transaction's GTID read since.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        server_id: int,
        start: BinlogPosition,
        tables: Iterable[tuple[str, str]] | Callable[[str, str], bool],
        *,
        describe: Describe | None = None,
        blocking: bool = False,
        heartbeat_s: float = 1.0,
        oceanbase_commit_ts: bool = False,
        skip_committed_before_us: int | None = None,
        count_only: bool = False,
        fast_rows: bool = True,
        checksum: bool = True,
        by_gtid: bool = False,
        markers: bool = False,
        stop_at: BinlogPosition | None = None,
    ) -> None:
        self.scope = Scope(tables)
        self.markers = markers
        self._stop = stop_at.sort_key() if stop_at is not None else None
        self.count_only = count_only
        self.fast_rows = fast_rows
        self.start = start
        self.heartbeats = 0
        self._grouper = ChangeGrouper(self.scope, start, oceanbase_commit_ts=oceanbase_commit_ts,
                                      skip_committed_before_us=skip_committed_before_us)  # fmt: skip
        self._dump: dict[str, Any] = {"settings": dict(settings), "server_id": server_id, "blocking": blocking,
                                      "heartbeat_s": heartbeat_s, "checksum": checksum, "by_gtid": by_gtid}  # fmt: skip
        self._log = LogPositions(start, by_gtid=by_gtid)  # the file being read, the executed GTID set
        self._stream: DumpStream | None = None
        self._decoders = StreamDecoders(self.scope, describe)  # the tables mapped, the parsers of the dump
        self._beat: tuple[int, bytes] | None = None  # the last heartbeat's offset and file
        self._between: BinlogPosition | None = None  # the last event read between transactions (`read_to`)

    @property
    def position(self) -> BinlogPosition:
        """
        The last resume point passed: after the last commit or standalone statement read, or past a rotation
        and the next file's first events read after it.
        """
        return self._grouper.position

    @property
    def read_to(self) -> BinlogPosition:
        """
        How far the log is read with no transaction open: `position`, or past it the end of the last other event
        read between transactions (an ANONYMOUS_GTID ...: no transaction starts after it). A range whose end is
        such a point is complete once the reader is there.
        """
        between, position = self._between, self._grouper.position
        return between if between is not None and between.sort_key() > position.sort_key() else position

    def close(self) -> None:
        """Close the replication connection."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def __enter__(self) -> BinlogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_changes(self) -> Iterator[StreamItem]:
        """
        One item at a time, in log order: each in-scope `RowChange` (numbered, `checkpoint` = its
        transaction's start as `file:position`), a `Commit` at each commit (with the resume position
        `end`), and a `SchemaChange` per in-scope DDL. Memory stays bounded whatever the transaction size.
        With `oceanbase_commit_ts` off, a change's `commit_ts_us` is the transaction's first event time;
        the `Commit` carries the exact commit time (the XID header).
        """
        return self._items()

    def read_transactions(
        self, max_changes: int | None = None, *, include_empty: bool = False
    ) -> Iterator[Transaction | SchemaChange]:
        """Whole transactions and schema changes; stops after `max_changes` changes (at a commit)."""
        return group_transactions(self.iter_changes(), max_changes, include_empty=include_empty)

    def _open(self, start: BinlogPosition | None = None) -> DumpStream:
        dump = self._dump if start is None else {**self._dump, "by_gtid": False}
        self._stream = stream = DumpStream(start=start or self.start, **dump)
        self._parsers(is_mariadb=stream.is_mariadb, checksum=stream.checksum)
        return stream

    def _parsers(self, *, is_mariadb: bool, checksum: bool) -> None:
        """The parsers of one stream: the library's, the TABLE_MAP mapper and the rows parser."""
        charset = self._dump["settings"].get("charset") or "utf8mb4"
        self._decoders.open(charset, is_mariadb=is_mariadb, checksum=checksum, count_only=self.count_only,
                            fast_rows=self.fast_rows)  # fmt: skip

    @property
    def skipped_changes(self) -> int:
        """Changes left out as already in the full sync's snapshot (`skip_committed_before_us`)."""
        return self._grouper.skipped_changes

    @property
    def library_decoded(self) -> int:
        """How many rows events the library decoded (types or images the compiled decoder does not cover)."""
        return self._decoders.library_decoded

    def _items(self) -> Iterator[StreamItem]:
        """
        The items of every dump this read needs. A non-blocking dump of the OceanBase Binlog Service sends one
        file, then EOF (`BinlogDumper::run`, reference notes §1.9): when the last event was a ROTATE to a file
        not read yet, the read goes on with a dump from that file's start. MySQL and MariaDB stream every file.
        """
        stream = self._stream or self._open()
        while True:
            yield from self._stream_items(stream)
            if self._dump["blocking"] or self._decoders.described_file in (None, self._log.file):
                return
            log.debug("the dump ended at the rotation to %s: reading on from its start", self._log.file)
            self.close()
            stream = self._open(self._log.at(4))

    def _stream_items(self, stream: DumpStream) -> Iterator[StreamItem]:
        """
        The items of one dump, from raw packets (see the module docstring): rows events straight to the
        grouper's changes (the hot path: one generator, no per-event dispatch), the others through `feed`.
        """
        grouper, feed, decoders, where = self._grouper, self._feed, self._decoders, self._log
        tail = 4 if stream.checksum else 0
        header, tables, rows_kinds, rows = HEADER.unpack_from, decoders.tables, ROWS, decoders.rows
        assert rows is not None  # set by _open
        from_bytes, crc32 = int.from_bytes, zlib.crc32
        last, last_id = None, b""  # the last TABLE_MAP's table and id: its rows events follow it
        for data in stream.packets():
            kind = data[5]  # the event type (the header follows the OK byte)
            if kind == TABLE_MAP:  # the same bytes as one read (and verified) before: the same table
                if last is not None and len(data) - tail - 20 == len(last.body) and data.startswith(last.body, 20):
                    continue
                known = tables.get(from_bytes(data[20:26], "little"))  # its table id
                if known is not None and len(data) - tail - 20 == len(known.body) and data.startswith(known.body, 20):
                    last, last_id = known, data[20:26]
                    continue
            elif kind in rows_kinds:  # rows of a table out of scope (or unknown): neither checked nor decoded
                info = last if last is not None and data.startswith(last_id, 20) else None
                info = info or tables.get(from_bytes(data[20:26], "little"))
                if info is None or not info.in_scope:
                    continue
            else:  # the kept map is dropped: a DDL or a rotation may forget it, a FORMAT_DESCRIPTION change the tail
                last = None
            timestamp, kind, server_id, size, log_pos, flags = header(data, 1)
            if kind in HEARTBEATS:  # obbinlog also sends one after each batch: idle is two at one place
                self.heartbeats += 1
                beat, self._beat = self._beat, (log_pos, data[20:])
                if beat == self._beat and not grouper.in_transaction:
                    if self.markers:
                        yield Resume(self.position, idle=True)
                    if not self._dump["blocking"] or self._stop is not None:  # obbinlog blocks a GTID dump
                        return  # whatever its flags, and a range's read ends: idle ends it
                continue
            if kind == FORMAT_DESCRIPTION:  # says whether this file's events end with a CRC32
                tail = decoders.format_description(data, tail, where.file)
            end = len(data) - tail
            if tail and crc32(data[1:]) != CRC32_RESIDUE and not in_use_crc(kind, data):  # CRC-32 residue
                raise UnsupportedEventError(
                    f"binlog event of type {kind} ending at {where.file}:{log_pos} fails its CRC32 check: the "
                    "stream is corrupt; read again from the last checkpoint"
                )
            if kind in rows_kinds:
                assert info is not None  # checked above: only in-scope tables' rows get here
                yield from grouper.changes(*rows.parse(data, end, kind, info, timestamp, where.file, log_pos))
            elif kind == TABLE_MAP:
                last, last_id = decoders.table_map(data, end), data[20:26]
            elif kind == XID:
                xid = int.from_bytes(data[20:28], "little")
                yield from feed(LogCommit(xid, timestamp, where.at(log_pos)))
                if self._stop is not None and grouper.position.sort_key() >= self._stop:
                    return
            elif kind == GTID:
                text, ob_ts = gtid(data, end)
                executed = where.resent is not None and where.resent(text)
                self._begin(text, log_pos - size)
                grouper.feed(LogBegin(text, timestamp, ob_ts, opens=False, executed=executed))
            elif kind == MARIADB_GTID:
                text, opens = mariadb_gtid(data, server_id)
                self._begin(text, log_pos - size)
                grouper.feed(LogBegin(text, timestamp, None, opens=opens))
            elif kind == QUERY:
                schema, statement = query(data, end, decoders.library.post_header(QUERY, 13))
                yield from feed(LogQuery(statement, schema, timestamp, where.at(log_pos)))
                if self._stop is not None and grouper.position.sort_key() >= self._stop:
                    return
            elif kind == ROTATE:
                where.file = rotate_file(data, end)
                tables.clear()  # table ids are per server run; a new file may follow a restart
                real = log_pos and not flags & ARTIFICIAL  # not the dump's first, made-up ROTATE
                if real and not grouper.in_transaction:
                    at = where.at(int.from_bytes(data[20:28], "little"))
                    self._between = at
                    self._pass_file_start(at)
                    if self.markers:
                        yield Resume(at, idle=False)
            else:
                self._other(kind, data, where.file)
                if log_pos and not grouper.in_transaction:  # between transactions (a file's first events ...)
                    self._between = where.at(log_pos)
                    if kind in FILE_START:
                        self._pass_file_start(self._between)

    def _feed(self, event: LogEvent) -> Iterator[StreamItem]:
        """The items of a commit or a statement; a DDL makes the reader forget the table's TABLE_MAPs."""
        for item in self._grouper.feed(event):
            if isinstance(item, SchemaChange):
                self._decoders.forget(item.database, item.table)
                if item.renamed_to is not None:
                    self._decoders.forget(*item.renamed_to)
            yield item

    def _pass_file_start(self, at: BinlogPosition) -> None:
        """
        Past a ROTATE or a file's first events with no transaction open, the next transaction starts at `at`,
        not at the last commit in the file before: a range may end there (SHOW MASTER STATUS just after a
        rotation), and a transaction's start (its checkpoint) is the same whichever side a read resumed from.
        """
        if at.sort_key() > self._grouper.position.sort_key():
            self._grouper.position = at

    def _begin(self, text: str, event_start: int) -> None:
        """A transaction's GTID: where a GTID start really begins, and the GTID counted as executed."""
        located = self._log.begin(text, event_start)
        if located is not None:
            self._grouper.position = located

    def _other(self, kind: int, data: bytes, file: str) -> None:
        """Events this reader cannot open (in `file`): an error when they may hold in-scope rows."""
        info = self._decoders.tables.get(table_id(data)) if kind in COMPRESSED_ROWS else None
        table = f"{info.database}.{info.table}" if info is not None and info.in_scope else None
        problem = unreadable(kind, table, file)
        if problem is not None:
            raise UnsupportedEventError(problem)
        if kind == COMPRESSED_QUERY:
            log.warning("a compressed statement in %s was not read (DDL in it is not recognised); set "
                        "log_bin_compress=OFF on the source", file)  # fmt: skip
