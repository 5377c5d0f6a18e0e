"""
The binlog reader: raw events off the wire (`engine/binlog_wire.py`) parsed into the neutral events of
`engine/binlog_events.py` (`LogBegin`, `LogRows`, `LogQuery`, `LogCommit`), which leave as `RowChange`,
`Commit`, `SchemaChange` and `Transaction`.

The hot path is parsed here, by hand: the event header, the TABLE_MAP (recognised by its bytes,
`engine/binlog_tables.py`), the rows event (decoded by the compiled decoder, `engine/binlog_rows.py`), GTID,
QUERY, XID and ROTATE. The library parses only what is rare: a new TABLE_MAP, the FORMAT_DESCRIPTION, and
rows the compiled decoder does not cover.

OceanBase Binlog Service quirks handled (reference notes §1.7, §1.9, §1.13):

* Checksum: set explicitly on the session (`engine/binlog_wire.py`). Whether events carry a CRC32 is read
  from each file's FORMAT_DESCRIPTION (obbinlog sends its default whatever the session asked), and each
  checksum is verified: a mismatch stops the read before anything is produced.
* Heartbeats (types 27 and 41) are counted, never turned into changes, and never move the resume position:
  positions only move at a commit or a standalone statement.
* Query events that are not BEGIN/COMMIT/table DDL (`SET GLOBAL ...`, unparsable text) are skipped, not DDL.
* `PARTIAL_UPDATE_ROWS_EVENT` (39, JSON diffs) on an in-scope table raises `UnsupportedEventError`: its after
  image lacks the unchanged JSON documents. So do MariaDB's compressed rows events and MySQL's compressed
  transaction payloads, which this reader cannot open.
* No `SELECT ... AS server_id` queries: the `server_id` (from the caller, stable) goes in the dump packet.
* Tables outside the scope are skipped by their TABLE_MAP's names: their rows are never decoded.
* A rows event whose column count differs from its TABLE_MAP raises SchemaError.

Column names come from the TABLE_MAP when the server logs them (`binlog_row_metadata=FULL`), else from the
injected `describe(database, table)`; the described schema also supplies UNSIGNED and ENUM/SET members the
TABLE_MAP lacks then. TIMESTAMP values are naive UTC datetimes. Zero dates and empty SETs come back as the
server's text.
"""

from __future__ import annotations

import itertools
import logging
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from airflow_provider_obkafka.engine.binlog_count import count_rows
from airflow_provider_obkafka.engine.binlog_events import (
    ChangeGrouper, LogBegin, LogCommit, LogEvent, LogQuery, LogRows, SchemaChange, Scope, StreamItem,
    Transaction, group_transactions, ob_commit_ts_us,
)  # fmt: skip
from airflow_provider_obkafka.engine.binlog_tables import (
    Describe, LibraryEvents, TableInfo, TableMapper, library_images, table_names,
)  # fmt: skip
from airflow_provider_obkafka.engine.binlog_wire import DumpStream
from airflow_provider_obkafka.engine.change import RecordType
from airflow_provider_obkafka.exceptions import SchemaError, UnsupportedEventError
from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = ["BinlogReader", "UnsupportedEventError"]

log = logging.getLogger(__name__)
QUERY, ROTATE, FORMAT_DESCRIPTION, XID, TABLE_MAP, GTID, PARTIAL_UPDATE = 2, 4, 15, 16, 19, 33, 39
MARIADB_GTID = 162
_HEARTBEATS = frozenset((27, 41))
_ROWS = {23: RecordType.INSERT, 24: RecordType.UPDATE, 25: RecordType.DELETE,
         30: RecordType.INSERT, 31: RecordType.UPDATE, 32: RecordType.DELETE, PARTIAL_UPDATE: RecordType.UPDATE}  # fmt: skip
_V2 = frozenset((30, 31, 32, PARTIAL_UPDATE))
_COMPRESSED_ROWS = frozenset(range(166, 172))  # MariaDB log_bin_compress
_COMPRESSED_QUERY, _TRANSACTION_PAYLOAD = 165, 40
_HEADER = struct.Struct("<IBIIIH")


def _packed_int(data: bytes, at: int) -> tuple[int, int]:
    """A length-encoded integer at `at`, and the offset after it."""
    first = data[at]
    if first < 0xFB:
        return first, at + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[at + 1 : at + 1 + width], "little"), at + 1 + width


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
    :param count_only: rows are counted, not decoded (`engine/binlog_count.py`): changes carry no images
    :param fast_rows: decode rows with the compiled decoder (False: with the library's, to compare them)
    :param checksum: ask the server for CRC32 checksums when its binlog has them; either way, each file's
        FORMAT_DESCRIPTION says whether its events carry one, and they are verified when they do
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
        count_only: bool = False,
        fast_rows: bool = True,
        checksum: bool = True,
    ) -> None:
        self.scope = Scope(tables)
        self.count_only = count_only
        self.fast_rows = fast_rows
        self.start = start
        self.heartbeats = 0
        self.library_decoded = 0
        self._describe = describe
        self._grouper = ChangeGrouper(self.scope, start, oceanbase_commit_ts=oceanbase_commit_ts)
        self._dump = {"settings": dict(settings), "server_id": server_id, "blocking": blocking,
                      "heartbeat_s": heartbeat_s, "checksum": checksum}  # fmt: skip
        self._stream: DumpStream | None = None
        self._tables: dict[int, TableInfo] = {}
        self._mapper: TableMapper | None = None
        self._file = start.file

    @property
    def position(self) -> BinlogPosition:
        """The last resume point passed: after the last commit or standalone statement read."""
        return self._grouper.position

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
        for event in self._log_events():
            for item in self._grouper.feed(event):
                if isinstance(item, SchemaChange):
                    self._forget(item.database, item.table)
                    if item.renamed_to is not None:
                        self._forget(*item.renamed_to)
                yield item

    def read_transactions(
        self, max_changes: int | None = None, *, include_empty: bool = False
    ) -> Iterator[Transaction | SchemaChange]:
        """Whole transactions and schema changes; stops after `max_changes` changes (at a commit)."""
        return group_transactions(self.iter_changes(), max_changes, include_empty=include_empty)

    def _forget(self, database: str, table: str) -> None:
        """After a DDL: drop the table's described schema and TABLE_MAPs (parsed again when sent)."""
        if self._mapper is not None:
            self._mapper.forget(database, table)
        ref = (database, table)
        for table_id in [key for key, info in self._tables.items() if (info.database, info.table) == ref]:
            del self._tables[table_id]

    def _open(self) -> DumpStream:
        self._stream = stream = DumpStream(start=self.start, **self._dump)
        charset = self._dump["settings"].get("charset") or "utf8mb4"
        library = LibraryEvents(charset, is_mariadb=stream.is_mariadb, checksum=stream.checksum)
        self._mapper = TableMapper(self._describe, library)
        return stream

    def _log_events(self) -> Iterator[LogEvent]:
        """The neutral events of the stream, parsed from raw packets (see the module docstring)."""
        stream = self._stream or self._open()
        tail = 4 if stream.checksum else 0
        header, crc32, tables, rows_kinds = _HEADER.unpack_from, zlib.crc32, self._tables, _ROWS
        for data in stream.packets():
            timestamp, kind, server_id, _size, log_pos, _flags = header(data, 1)
            if kind in _HEARTBEATS:
                self.heartbeats += 1
                continue
            if kind == FORMAT_DESCRIPTION:  # says whether this file's events end with a CRC32
                tail = self._format_description(data, tail)
            end = len(data) - tail
            if tail and crc32(data[1:end]) != int.from_bytes(data[end:], "little"):
                raise UnsupportedEventError(
                    f"binlog event of type {kind} ending at {self._file}:{log_pos} fails its CRC32 check: the "
                    "stream is corrupt; read again from the last checkpoint"
                )
            if kind in rows_kinds:
                info = tables.get(int.from_bytes(data[20:26], "little"))
                if info is not None and info.in_scope:
                    yield self._rows(data, end, kind, info, timestamp, log_pos)
            elif kind == TABLE_MAP:
                self._table_map(data, end)
            elif kind == XID:
                xid = int.from_bytes(data[20:28], "little")
                yield LogCommit(xid, timestamp, BinlogPosition.model_construct(file=self._file, position=log_pos))
            elif kind == GTID:
                yield self._gtid(data, end, timestamp)
            elif kind == MARIADB_GTID:
                seq, domain, flags = struct.unpack_from("<QIB", data, 20)
                yield LogBegin(f"{domain}-{server_id}-{seq}", timestamp, None, opens=not flags & 1)
            elif kind == QUERY:
                yield self._query(data, end, timestamp, log_pos)
            else:
                self._other(kind, data, end, timestamp)

    def _other(self, kind: int, data: bytes, end: int, timestamp: int) -> None:
        """ROTATE, FORMAT_DESCRIPTION, and events this reader cannot open; the rest is ignored."""
        if kind == ROTATE:
            self._file = data[28:end].decode()
            self._tables.clear()  # table ids are per server run; a new file may follow a restart
        elif kind == _TRANSACTION_PAYLOAD:
            raise UnsupportedEventError(
                f"a compressed transaction (TRANSACTION_PAYLOAD_EVENT) in {self._file}: it cannot be read; "
                "set binlog_transaction_compression=OFF on the source"
            )
        elif kind in _COMPRESSED_ROWS:
            info = self._tables.get(int.from_bytes(data[20:26], "little"))
            if info is not None and info.in_scope:
                raise UnsupportedEventError(
                    f"table {info.database}.{info.table}: a compressed rows event in {self._file} cannot be "
                    "read; set log_bin_compress=OFF on the source"
                )
        elif kind == _COMPRESSED_QUERY:
            log.warning("a compressed statement in %s was not read (DDL in it is not recognised); set "
                        "log_bin_compress=OFF on the source", self._file)  # fmt: skip

    def _format_description(self, data: bytes, tail: int) -> int:
        """
        Read a FORMAT_DESCRIPTION: the checksum length of the events that follow (its algorithm byte: a
        server keeps checksums as each file was written, whatever the session asked), and post-header sizes.
        """
        assert self._mapper is not None
        library = self._mapper.library
        algorithm = library.format_description(data, checksum=tail > 0)
        if algorithm is not None:
            tail = 4 if algorithm == 1 else 0
        library.checksum = tail > 0
        return tail

    def _table_map(self, data: bytes, end: int) -> None:
        table_id = int.from_bytes(data[20:26], "little")
        body = data[20:end]
        known = self._tables.get(table_id)
        if known is not None and known.body == body:
            return
        database, table = table_names(data)
        if not self.scope(database, table):
            self._tables[table_id] = TableInfo(database, table, body, False)
            return
        assert self._mapper is not None
        self._tables[table_id] = self._mapper.info(data, body, database, table)

    def _gtid(self, data: bytes, end: int, timestamp: int) -> LogBegin:
        """A MySQL / OceanBase GTID event; OceanBase writes the commit time in its logical-clock fields."""
        sid = data[21:37].hex()
        gno = int.from_bytes(data[37:45], "little")
        gtid = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}:{gno}"
        ob_ts = None
        if end >= 62:  # lt_type, last_committed, sequence_number (MySQL 5.7 and later; obbinlog)
            last_committed, sequence_number = struct.unpack_from("<QQ", data, 46)
            ob_ts = ob_commit_ts_us(last_committed, sequence_number)
        return LogBegin(gtid, timestamp, ob_ts, opens=False)

    def _query(self, data: bytes, end: int, timestamp: int, log_pos: int) -> LogQuery:
        """A QUERY event: its statement and default database."""
        db_len = data[28]
        status_len = int.from_bytes(data[31:33], "little")
        at = 20 + self._post_header(QUERY, 13) + status_len
        schema = data[at : at + db_len].decode("utf-8", errors="backslashreplace")
        statement = data[at + db_len + 1 : end].decode("utf-8", errors="backslashreplace")
        return LogQuery(statement, schema, timestamp, BinlogPosition.model_construct(file=self._file, position=log_pos))

    def _post_header(self, kind: int, default: int) -> int:
        lengths = self._mapper.library.post_header_len if self._mapper is not None else None
        return lengths[kind - 1] if lengths and len(lengths) >= kind else default

    def _rows(self, data: bytes, end: int, kind: int, info: TableInfo, timestamp: int, log_pos: int) -> LogRows:
        """An in-scope rows event: its images, decoded (or counted) lazily by the consumer."""
        record_type = _ROWS[kind]
        where = f"{self._file}:{log_pos}"
        if kind == PARTIAL_UPDATE:
            raise UnsupportedEventError(
                f"table {info.database}.{info.table}: PARTIAL_UPDATE_ROWS_EVENT (JSON partial update) at {where} "
                "cannot be synchronized: its after image lacks unchanged JSON values; set "
                "binlog_row_value_options='' on the source"
            )
        at = 20 + self._post_header(kind, 10 if kind in _V2 else 8)
        if kind in _V2:
            at += int.from_bytes(data[28:30], "little") - 2
        count, at = _packed_int(data, at)
        if count != info.count:
            raise SchemaError(
                f"table {info.database}.{info.table}: a rows event at {where} has {count} columns, the table "
                f"map read for it {info.count}: the table changed without a DDL in the log; read again from "
                "the last checkpoint"
            )
        width = (count + 7) // 8
        bitmaps = [data[at : at + width]]
        at += width
        if record_type is RecordType.UPDATE:
            bitmaps.append(data[at : at + width])
            at += width
        if self.count_only and info.layout is not None:
            counted = count_rows(data, at, end, info.layout, bitmaps)
            if counted is not None:
                return LogRows(info.database, info.table, record_type, (), (), itertools.repeat((None, None), counted),
                               timestamp)  # fmt: skip
        images: Any
        full = info.full_bitmap
        if self.fast_rows and info.decoder is not None and all(bitmap == full for bitmap in bitmaps):
            rows = info.decoder(data, at, end, record_type is RecordType.UPDATE)
            if record_type is RecordType.INSERT:
                images = [(None, after) for after in rows]
            elif record_type is RecordType.DELETE:
                images = [(before, None) for before in rows]
            else:
                images = rows
        else:
            assert self._mapper is not None
            self.library_decoded += 1
            library = self._mapper.library
            library.table_map[info.library_table.table_id] = info.library_table
            images = library_images(library.rows_event(data, record_type), record_type)
        return LogRows(info.database, info.table, record_type, info.columns, info.key, images, timestamp)
