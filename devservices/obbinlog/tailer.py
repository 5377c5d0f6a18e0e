"""Feed the double from real writes: tail MariaDB's binlog as a replica, re-encode each committed transaction.

What obbinlog's converter does to a transaction (``src/binlog/binlog-instance/parallel_convert.cpp``,
``BinlogEventConvertHandler::onEvent``): BEGIN becomes GTID + QUERY("BEGIN"), every row its own TABLE_MAP and
one v2 rows event (30/31/32) with ``STMT_END_F``, COMMIT an XID; a DDL becomes GTID + QUERY(ddl) with no XID.
The TABLE_MAP carries no optional metadata (no column names) and flags 1; the table id is a hash of the
database and table names (``TableCache::get_table_id``), changed after a DDL on the table.

Here MariaDB's multi-row events are cut at the row boundaries found from the column types (``rowscan.py``),
the row bytes are copied unchanged, and MariaDB's TABLE_MAP is cut after its
null bitmap (dropping ``binlog_row_metadata=FULL``'s optional metadata). Commit times: MariaDB's header has
whole seconds, so the double makes them strictly increasing µs (``BinlogStore.commit_ts``: the second, or 1 µs
after the previous commit), which stands in for OceanBase's µs commit version.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import MariadbGtidEvent, QueryEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from devservices.obbinlog import events as ev
from devservices.obbinlog import rowscan

if TYPE_CHECKING:
    from devservices.obbinlog.store import BinlogStore

log = logging.getLogger(__name__)
ROW_TYPES = {WriteRowsEvent: ev.WRITE_ROWS, UpdateRowsEvent: ev.UPDATE_ROWS, DeleteRowsEvent: ev.DELETE_ROWS}
ONLY_EVENTS = [MariadbGtidEvent, QueryEvent, TableMapEvent, WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent,
               XidEvent]  # fmt: skip
FL_STANDALONE = 1


def strip_table_map(body: bytes) -> tuple[bytes, str, str]:
    """Cut a TABLE_MAP body after its null bitmap; return (rest after the flags, db, table)."""
    pos = 8
    db = body[pos + 1 : pos + 1 + body[pos]].decode()
    pos += 2 + body[pos]
    table = body[pos + 1 : pos + 1 + body[pos]].decode()
    pos += 2 + body[pos]
    ncols, pos = ev.lenenc(body, pos)
    pos += ncols
    meta_len, pos = ev.lenenc(body, pos)
    pos += meta_len + (ncols + 7) // 8
    return body[8:pos], db, table


def raw_body(event: Any) -> bytes:
    """The event's bytes between the 19-byte header and the CRC32 (MariaDB writes CRC32)."""
    data = event.packet.packet._data  # the pymysql packet: OK byte, header, body, CRC
    return bytes(data[1 + ev.HEADER_LEN : -4])


def split_rows(event: Any, columns: list[rowscan.Sizer]) -> tuple[bytes, list[bytes]]:
    """Return (width + column bitmaps, [each row's bytes]) of a v1 (MariaDB) or v2 rows event."""
    body = raw_body(event)
    post = 8 if event.packet.event_type < 30 else 8 + struct.unpack_from("<H", body, 8)[0]
    return rowscan.split(body, post, columns, isinstance(event, UpdateRowsEvent))


class Tailer(threading.Thread):
    """
    Replica of MariaDB that turns each committed transaction into obbinlog's events in ``store``.

    :param store: where transactions go
    :param settings: pymysql settings of MariaDB (host, port, user, passwd)
    :param server_id: the replica id this reader registers with (stable)
    """

    def __init__(self, store: BinlogStore, settings: dict[str, Any], server_id: int) -> None:
        super().__init__(name="obbinlog-tailer", daemon=True)
        self.store, self.settings, self.server_id = store, settings, server_id
        self.stopping = threading.Event()
        self.table_ids: dict[str, int] = {}

    def run(self) -> None:
        """Read MariaDB until stopped; reconnect from the last committed position after a failure."""
        while not self.stopping.is_set():
            try:
                self._follow()
            except Exception:  # noqa: BLE001 - keep tailing; the log says why
                log.exception("tailing MariaDB failed; retrying in 1 s")
                self.stopping.wait(1.0)

    def _start(self) -> dict:
        """The MariaDB position to read from: the saved one, else MariaDB's current end (first start)."""
        if self.store.source.get("file"):
            return self.store.source
        import pymysql

        conn = pymysql.connect(**self.settings)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW MASTER STATUS")
                row = cur.fetchone()
        finally:
            conn.close()
        return {"file": row[0], "pos": int(row[1])}

    def _follow(self) -> None:
        """
        One replication session: read events and append each committed transaction.

        Not ``is_mariadb=True``: with it and no ``auto_position`` the library asks MariaDB for an empty GTID
        state, which streams the whole binlog from its start and would repeat every transaction on restart.
        The file/position dump (with ``@mariadb_slave_capability=4``) still gets MariaDB's GTID events.
        """
        start = self._start()
        stream = BinLogStreamReader(
            connection_settings=self.settings, server_id=self.server_id, blocking=True, resume_stream=True,
            log_file=start["file"], log_pos=start["pos"], only_events=ONLY_EVENTS,
            slave_heartbeat=1.0,
        )  # fmt: skip
        self._stream = stream
        log.info("tailing MariaDB from %s:%s", start["file"], start["pos"])
        try:
            self._loop(stream)
        finally:
            stream.close()

    def _loop(self, stream: BinLogStreamReader) -> None:
        """Group events into transactions and hand each one to the store at its commit."""
        pending: list[tuple[int, bytes]] | None = None
        seconds, maps = 0, {}
        for event in stream:
            if self.stopping.is_set():
                return
            if isinstance(event, MariadbGtidEvent):
                pending, seconds = [(ev.QUERY, ev.query_body("", "BEGIN"))], event.timestamp
                standalone = bool(event.flags & FL_STANDALONE)
            elif isinstance(event, TableMapEvent):
                tail, db, table = strip_table_map(raw_body(event))
                maps[event.table_id] = (tail, db, table, rowscan.sizers(tail))
            elif type(event) in ROW_TYPES and pending is not None:
                pending.extend(self._rows(event, maps[event.table_id]))
            elif isinstance(event, XidEvent) or (isinstance(event, QueryEvent) and event.query == "COMMIT"):
                if pending is not None and len(pending) > 1:
                    self._commit(stream, seconds, pending, ddl=False)
                pending = None
            elif isinstance(event, QueryEvent) and event.query != "BEGIN" and (pending is None or standalone):
                self._ddl(stream, event)
                pending = None

    def _rows(self, event: Any, table_map: tuple) -> list[tuple[int, bytes]]:
        """One TABLE_MAP and one single-row v2 rows event per row of ``event``."""
        tail, db, table, columns = table_map
        table_id = self._table_id(db, table)
        tm = ev.table_map_body(table_id, tail)
        prefix, rows = split_rows(event, columns)
        etype = ROW_TYPES[type(event)]
        head = ev.rows_v2(etype, table_id, prefix, b"")  # the same for every row of the event
        out = []
        for row in rows:
            out += ((ev.TABLE_MAP, tm), (etype, head + row))
        return out

    def _table_id(self, db: str, table: str) -> int:
        """A table id hashed from the names and the number of DDLs seen on the table."""
        key = f"{db}.{table}"
        if key not in self.table_ids:
            self.table_ids[key] = (
                zlib.crc32(f"{key}#{self.store.ddl_count.get(key, 0)}".encode()) & 0xFFFFFFFF
            )
        return self.table_ids[key]

    def _ddl(self, stream: BinLogStreamReader, event: Any) -> None:
        """A statement outside a transaction: GTID + QUERY, no XID; later TABLE_MAPs of its db get new ids."""
        schema = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema or "")
        with self.store.cond:  # the count is saved with the state: a restart re-encodes the same table ids
            for key in [k for k in self.table_ids if k.startswith(f"{schema}.")]:
                self.store.ddl_count[key] = self.store.ddl_count.get(key, 0) + 1
                del self.table_ids[key]
        body = [(ev.QUERY, ev.query_body(schema, event.query))]
        self._commit(stream, event.timestamp, body, ddl=True)

    def _commit(self, stream: BinLogStreamReader, seconds: int, body: list, ddl: bool) -> None:
        """Append the transaction with the MariaDB position just after it."""
        source = {"file": stream.log_file, "pos": stream.log_pos, "at": time.time()}
        self.store.append(seconds, body, source, ddl=ddl)

    def stop(self) -> None:
        """Ask the thread to stop (it notices at the next event or heartbeat)."""
        self.stopping.set()
