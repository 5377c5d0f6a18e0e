"""
The binlog reader: the only module importing pymysqlreplication. Library events and row dicts stop here;
what leaves is `RowChange`, `Commit`, `SchemaChange` and `Transaction` (`engine/binlog_events.py`).

OceanBase Binlog Service quirks handled (reference notes §1.7, §1.9, §1.13):

* Checksum: every connection first runs `SET @master_binlog_checksum = 'NONE'`. pymysqlreplication then reads
  `SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'` and, when it is not NONE, runs
  `SET @master_binlog_checksum = @@global.binlog_checksum` and expects CRC32. So the variable is always set
  explicitly, and what the server is told always matches what the library decodes (obbinlog would otherwise
  send its default CRC32 to a client that believes there is none).
* Heartbeats (type 27) are requested (`master_heartbeat_period`), read and counted, never turned into
  changes, and never move the resume position: positions only move at a commit or a standalone statement.
* Query events that are not BEGIN/COMMIT/table DDL (`SET GLOBAL ...`, unparsable text) are skipped, not DDL.
* `PARTIAL_UPDATE_ROWS_EVENT` (39, JSON diffs) on an in-scope table raises `UnsupportedEventError`: its after
  image lacks the unchanged JSON documents.
* No `SELECT ... AS server_id` queries: the stream sends `server_id` (from the caller, stable) in the dump
  packet; the library's own queries are SHOW statements and `SET`s.
* Tables outside the scope are skipped before their rows are decoded (pymysqlreplication decodes lazily).
* A TABLE_MAP is parsed once per table id (`freeze_schema`; obbinlog and single-row statements send one per
  row, and parsing it cost more than the row), and parsed again after a DDL on the table; a rows event
  whose column count differs from its table map (a schema change the log did not show) raises SchemaError.
* Row images are decoded by a compiled per-table decoder (`engine/binlog_rows.py`), the library's decoder
  being the fallback for the types it does not cover.

Column names come from the TABLE_MAP when the server logs them (`binlog_row_metadata=FULL`), else from the
injected `describe(database, table)`; the described schema also supplies UNSIGNED and ENUM/SET members the
TABLE_MAP lacks then. TIMESTAMP values are naive UTC datetimes (the library uses `utcfromtimestamp`). Zero
dates and empty SETs, which the library returns as None, come back as the server's text.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.constants import NONE_SOURCE
from pymysqlreplication.event import (
    GtidEvent, HeartbeatLogEvent, MariadbGtidEvent, QueryEvent, RotateEvent, XidEvent,
)  # fmt: skip
from pymysqlreplication.row_event import DeleteRowsEvent, PartialUpdateRowsEvent, UpdateRowsEvent, WriteRowsEvent

from airflow_provider_obkafka.engine.binlog_events import (
    ChangeGrouper, LogBegin, LogCommit, LogEvent, LogQuery, LogRows, SchemaChange, Scope, StreamItem,
    Transaction, group_transactions, ob_commit_ts_us,
)  # fmt: skip
from airflow_provider_obkafka.engine.binlog_count import column_layout, count_rows
from airflow_provider_obkafka.engine.binlog_rows import FastRows
from airflow_provider_obkafka.engine.change import Image, RecordType
from airflow_provider_obkafka.exceptions import SchemaError, UnsupportedEventError
from airflow_provider_obkafka.models.position import BinlogPosition

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = ["BinlogReader", "UnsupportedEventError"]

log = logging.getLogger(__name__)
Describe = Callable[[str, str], "TableSchema"]
_ROWS = {WriteRowsEvent: RecordType.INSERT, UpdateRowsEvent: RecordType.UPDATE, DeleteRowsEvent: RecordType.DELETE}
_EVENTS = [*_ROWS, PartialUpdateRowsEvent, XidEvent, QueryEvent, GtidEvent, MariadbGtidEvent, RotateEvent,
           HeartbeatLogEvent]  # fmt: skip


def _connect_with_checksum(**kwargs: Any) -> pymysql.connections.Connection:
    """
    A pymysql connection on which `@master_binlog_checksum` is set explicitly (see the module docstring).
    Without TLS settings it is plain, as the hook's own connections: PyMySQL would otherwise try TLS and
    build an SSL context per connection (about 0.1 s each, two per reader, one reader per trigger scan).
    """
    if not kwargs.get("ssl"):
        kwargs.setdefault("ssl_disabled", True)
    conn = pymysql.connect(**kwargs)
    with conn.cursor() as cur:
        cur.execute("SET @master_binlog_checksum = 'NONE'")
    return conn


def _zero_text(column: Any, source: str) -> str | None:
    """The server's text for a value the library returns as None (zero date, empty SET), else None."""
    if source == NONE_SOURCE.EMPTY_SET:
        return ""
    if source == NONE_SOURCE.OUT_OF_DATE_RANGE:
        return "0000-00-00"
    if source in (NONE_SOURCE.OUT_OF_DATETIME_RANGE, NONE_SOURCE.OUT_OF_DATETIME2_RANGE):
        fsp = getattr(column, "fsp", 0) or 0
        return "0000-00-00 00:00:00" + ("." + "0" * fsp if fsp else "")
    return None


class _TableMapper:
    """Per-table column names and keys (binlog metadata, else `describe`), and row dict -> image."""

    def __init__(self, describe: Describe | None) -> None:
        self.describe = describe
        self.schemas: dict[tuple[str, str], TableSchema] = {}

    def forget(self, database: str, table: str) -> None:
        self.schemas.pop((database, table), None)

    def _schema(self, ref: tuple[str, str], count: int) -> TableSchema:
        schema = self.schemas.get(ref)
        if schema is None or len(schema.columns) != count:
            if self.describe is None:
                raise SchemaError(f"table {ref[0]}.{ref[1]}: the binlog has no column names and no describe")
            schema = self.schemas[ref] = self.describe(*ref)
        if len(schema.columns) != count:
            raise SchemaError(
                f"table {ref[0]}.{ref[1]}: the binlog row has {count} columns, the table has "
                f"{len(schema.columns)}: the schema changed after this event; resync the table"
            )
        return schema

    def prepare(self, event: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Column names and key columns of a rows event; fills in what the TABLE_MAP lacks before decoding."""
        table_map = event.table_map[event.table_id]
        columns = table_map.columns
        if all(col.name for col in columns):
            key = tuple(col.name for col in columns if col.is_primary)
            if key or self.describe is None:
                return tuple(col.name for col in columns), key
        schema = self._schema((event.schema, event.table), len(columns))
        for col, described in zip(columns, schema.columns, strict=True):
            col.name = col.name or described.name
            col.unsigned = col.unsigned or described.unsigned
            if described.data_type == "enum" and not col.enum_values:
                col.enum_values = [""] + list(described.enum_values)
            if described.data_type == "set" and not col.set_values:
                col.set_values = list(described.enum_values)
        return schema.column_names, schema.row_key()

    @staticmethod
    def image(values: dict[str, Any], none_sources: dict[str, str], columns: list[Any]) -> Image:
        """A row dict as a tuple in column order, zero dates and empty SETs as the server's text."""
        image = tuple(values.values())
        if any(source != NONE_SOURCE.NULL for source in none_sources.values()):
            names = list(values)
            fixed = list(image)
            for name, source in none_sources.items():
                if name in values:
                    i = names.index(name)
                    fixed[i] = _zero_text(columns[i], source)
            image = tuple(fixed)
        return image


def _count(event: Any) -> int | None:
    """The rows of an event counted without decoding them, or None when it must be decoded to tell."""
    wrapper, raw = event.packet, event.packet.packet
    layout = column_layout(event.columns)
    if (
        layout is None or not event.complete or event.number_of_columns != len(event.columns)
        or wrapper._BinLogPacketWrapper__data_buffer or raw._position != 20 + wrapper.read_bytes
    ):  # fmt: skip
        return None
    bitmaps = [event.columns_present_bitmap]
    if _ROWS[type(event)] is RecordType.UPDATE:
        bitmaps.append(event.columns_present_bitmap2)
    return count_rows(raw._data, raw._position, 20 + event.event_size, layout, bitmaps)


def _images(event: Any, record_type: RecordType) -> Iterator[tuple[Image | None, Image | None]]:
    """(before, after) images of a rows event, decoded by the library (`.rows`): what `FastRows` skips."""
    columns = event.columns
    for row in event.rows:
        if record_type is RecordType.INSERT:
            yield None, _TableMapper.image(row["values"], row["none_sources"], columns)
        elif record_type is RecordType.DELETE:
            yield _TableMapper.image(row["values"], row["none_sources"], columns), None
        else:
            before = _TableMapper.image(row["before_values"], row["before_none_sources"], columns)
            yield before, _TableMapper.image(row["after_values"], row["after_none_sources"], columns)


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
    :param ctl_settings: connection settings for the library's metadata connection; default `settings`
    :param count_only: rows are counted, not decoded (`engine/binlog_count.py`): changes carry no images
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
        ctl_settings: dict[str, Any] | None = None,
        count_only: bool = False,
    ) -> None:
        self.scope = Scope(tables)
        self.count_only = count_only
        self.start = start
        self.heartbeats = 0
        self._mapper = _TableMapper(describe)
        self._fast = FastRows()
        self._grouper = ChangeGrouper(self.scope, start, oceanbase_commit_ts=oceanbase_commit_ts)
        names = self.scope.tables
        self._stream = BinLogStreamReader(
            connection_settings=dict(settings), ctl_connection_settings=dict(ctl_settings or settings),
            server_id=server_id, resume_stream=True, log_file=start.file, log_pos=start.position,
            blocking=blocking, only_events=_EVENTS, slave_heartbeat=heartbeat_s,
            only_schemas=None if names is None else sorted({db for db, _ in names}),
            pymysql_wrapper=_connect_with_checksum, enable_logging=False, freeze_schema=True,
        )  # fmt: skip

    @property
    def position(self) -> BinlogPosition:
        """The last resume point passed: after the last commit or standalone statement read."""
        return self._grouper.position

    def close(self) -> None:
        """Close the replication and metadata connections."""
        self._stream.close()

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

    def _forget(self, database: str, table: str) -> None:
        """After a DDL: drop the table's described schema and parsed TABLE_MAPs (parsed again when sent)."""
        self._mapper.forget(database, table)
        maps = self._stream.table_map
        ref = (database, table)
        for table_id in [key for key, found in maps.items() if (found.schema, found.table) == ref]:
            del maps[table_id]

    def read_transactions(
        self, max_changes: int | None = None, *, include_empty: bool = False
    ) -> Iterator[Transaction | SchemaChange]:
        """Whole transactions and schema changes; stops after `max_changes` changes (at a commit)."""
        return group_transactions(self.iter_changes(), max_changes, include_empty=include_empty)

    def _log_events(self) -> Iterator[LogEvent]:
        for event in self._stream:
            translated = self._translate(event)
            if translated is not None:
                yield translated

    def _end(self, event: Any) -> BinlogPosition:
        return BinlogPosition(file=self._stream.log_file, position=event.packet.log_pos)

    def _translate(self, event: Any) -> LogEvent | None:
        kind = type(event)
        if kind in _ROWS or kind is PartialUpdateRowsEvent:
            return self._rows(event)
        if kind is XidEvent:
            return LogCommit(event.xid, event.timestamp, self._end(event))
        if kind is QueryEvent:
            schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
            return LogQuery(event.query, schema, event.timestamp, self._end(event))
        if kind is GtidEvent:
            ob_ts = None
            if hasattr(event, "last_committed"):
                ob_ts = ob_commit_ts_us(event.last_committed, event.sequence_number)
            return LogBegin(event.gtid, event.timestamp, ob_ts, opens=False)
        if kind is MariadbGtidEvent:
            return LogBegin(event.gtid, event.timestamp, None, opens=not event.flags & 1)
        if kind is HeartbeatLogEvent:
            self.heartbeats += 1
        return None

    def _rows(self, event: Any) -> LogRows | None:
        if not getattr(event, "_processed", True) or not self.scope(event.schema, event.table):
            return None  # out of scope: the rows are never decoded
        if isinstance(event, PartialUpdateRowsEvent):
            raise UnsupportedEventError(
                f"table {event.schema}.{event.table}: PARTIAL_UPDATE_ROWS_EVENT (JSON partial update) at "
                f"{self._stream.log_file}:{event.packet.log_pos} cannot be synchronized: its after image "
                "lacks unchanged JSON values; set binlog_row_value_options='' on the source"
            )
        if event.number_of_columns != len(event.columns):
            raise SchemaError(
                f"table {event.schema}.{event.table}: a rows event at {self._stream.log_file}:"
                f"{event.packet.log_pos} has {event.number_of_columns} columns, the table map read for its "
                f"table id {len(event.columns)}: the table changed without a DDL in the log; read again "
                "from the last checkpoint"
            )
        if self.count_only and (counted := _count(event)) is not None:
            images = itertools.repeat((None, None), counted)
            return LogRows(event.schema, event.table, _ROWS[type(event)], (), (), images, event.timestamp)
        columns, key = self._mapper.prepare(event)
        record_type = _ROWS[type(event)]
        images = self._fast.images(event, record_type)
        if images is None:
            images = _images(event, record_type)
        return LogRows(event.schema, event.table, record_type, columns, key, images, event.timestamp)
