"""
The binlog stream on the wire: a `COM_BINLOG_DUMP` over a pymysql connection, its packets read straight off
the socket. `engine/binlog/reader.py` parses the events; this module only opens the stream and frames it.

Why not pymysqlreplication's `BinLogStreamReader`: it builds a packet object, a wrapper and an event object
per binlog event in pure Python, about 35 µs per event. The OceanBase Binlog Service writes one TABLE_MAP
and one rows event per row (reference notes §1.9), so that cost alone capped incremental sync near 10,000
rows/s. Reading a packet here costs two buffered reads, from a buffer of `READ_BUFFER` bytes.

The session is set up as the OceanBase Binlog Service needs (reference notes §1.7, §1.13):

* `@master_binlog_checksum` is always set explicitly: first to `'NONE'`, then, when
  `SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'` says CRC32, to `@@global.binlog_checksum`. What the server
  is told is what `checksum` says the events carry; obbinlog would otherwise send its default CRC32 to a
  client that believes there is none.
* `@master_heartbeat_period` (ns) is set; heartbeats arrive as events, never as positions.
* `@mariadb_slave_capability = 4`: MariaDB then sends its GTID events instead of dummy events.
* No `SELECT ... AS server_id`: the `server_id` goes in the dump packet.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from pymysql.constants import CR
from pymysql.err import OperationalError
from pymysql.protocol import MysqlPacket

from airflow_provider_obkafka.engine.binlog.gtid import flavor_of, mysql_gtid_set_payload
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.tls import connect_mysql

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pymysql

    from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = ["DumpStream", "connect_with_checksum"]

log = logging.getLogger(__name__)
COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID = 0x12, 0x1E
BINLOG_DUMP_NON_BLOCK, BINLOG_THROUGH_GTID = 0x01, 0x04
_MAX_PACKET = 0xFFFFFF
_MAX_HEARTBEAT_S = 4294967
# The dump's read buffer: pymysql's 8 KiB buffer takes a system call per 60 one-row events or so.
READ_BUFFER = 256 * 1024


def connect_with_checksum(**kwargs: Any) -> pymysql.connections.Connection:
    """
    A pymysql connection on which `@master_binlog_checksum` is set explicitly (see the module docstring).
    TLS as the hook's own connections (`models.tls.connect_mysql`): `ssl` is plain settings, verified by
    default; without them the connection is plain.
    """
    conn = connect_mysql(**kwargs)
    with conn.cursor() as cur:
        cur.execute("SET @master_binlog_checksum = 'NONE'")
    return conn


def _lost(reason: str) -> OperationalError:
    return OperationalError(CR.CR_SERVER_LOST, f"Lost connection to the binlog server: {reason}")


class DumpStream:
    """
    One binlog dump: connect, set the session up, ask for events from `start`, and read them as raw packets.

    :param settings: pymysql keyword arguments of the binlog endpoint (host, port, user, password, charset)
    :param server_id: the replica id sent in the dump packet; stable per project, never random
    :param start: the first event to read
    :param blocking: wait for new events (True) or end at the end of the log (False)
    :param heartbeat_s: heartbeat period asked of the server, seconds; 0 asks for none
    :param checksum: ask for CRC32 checksums when the server has them
    :param by_gtid: start after `start.gtid_set` (the server finds the position), not at the file position
    """

    def __init__(
        self,
        settings: dict[str, Any],
        server_id: int,
        start: BinlogPosition,
        *,
        blocking: bool = False,
        heartbeat_s: float = 1.0,
        checksum: bool = True,
        by_gtid: bool = False,
    ) -> None:
        # A pymysql connection, None once closed; packets() reads its private socket, reader and timeouts,
        # which pymysql's stubs do not declare.
        self.conn: Any = connect_with_checksum(**settings)
        try:
            self.server_info = str(self.conn.get_server_info())
            self.checksum = checksum and self._server_checksum()
            with self.conn.cursor() as cur:
                if self.checksum:
                    cur.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
                if heartbeat_s:
                    timeout = float(settings.get("read_timeout") or _MAX_HEARTBEAT_S)
                    period = min(timeout / 2.0, heartbeat_s, _MAX_HEARTBEAT_S)
                    cur.execute("SET @master_heartbeat_period = %s", (int(period * 1_000_000_000),))
                cur.execute("SET @mariadb_slave_capability = 4")
            self.is_mariadb = "mariadb" in self.server_info.lower()
            request = self._dump_request(start, server_id, blocking, by_gtid)
            # every reply is read: a bigger buffer for the stream (a system call per READ_BUFFER bytes)
            conn: Any = self.conn  # its private reader, socket and sequence number: not in pymysql's stubs
            conn._rfile.close()
            conn._rfile = conn._sock.makefile("rb", buffering=READ_BUFFER)
            conn._next_seq_id = 0
            conn.write_packet(request)
        except BaseException:
            self.conn.close()
            raise

    def _dump_request(self, start: BinlogPosition, server_id: int, blocking: bool, by_gtid: bool) -> bytes:
        """
        `COM_BINLOG_DUMP` from the file and position; with `by_gtid`, from the GTID set instead: MariaDB takes
        it as `@slave_connect_state`, MySQL and obbinlog in `COM_BINLOG_DUMP_GTID`.
        """
        flags = 0 if blocking else BINLOG_DUMP_NON_BLOCK
        if not by_gtid:
            return struct.pack("<BIHI", COM_BINLOG_DUMP, start.position, flags, server_id) + start.file.encode()
        if not start.gtid_set:
            raise ConfigError(f"reading by GTID from {start.file}:{start.position}: the position has no GTID set")
        if flavor_of(start.gtid_set, start.gtid_flavor) == "mariadb":
            with self.conn.cursor() as cur:
                cur.execute("SET @slave_connect_state = %s", (start.gtid_set,))
                cur.execute("SET @slave_gtid_strict_mode = 1")
                cur.execute("SET @slave_gtid_ignore_duplicates = 0")
            return struct.pack("<BIHI", COM_BINLOG_DUMP, 4, flags, server_id)
        payload = mysql_gtid_set_payload(start.gtid_set)
        return struct.pack("<BHII", COM_BINLOG_DUMP_GTID, flags | BINLOG_THROUGH_GTID, server_id, 0) + struct.pack(
            "<QI", 4, len(payload)
        ) + payload

    def _server_checksum(self) -> bool:
        """Whether the server's binlog carries checksums (`binlog_checksum` other than NONE)."""
        with self.conn.cursor() as cur:
            cur.execute("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'")
            row = cur.fetchone()
        return row is not None and str(row[1]).upper() != "NONE"

    def close(self) -> None:
        """Close the connection (the server ends the dump)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def packets(self) -> Iterator[bytes]:
        """
        Each event as the server sends it: the OK byte, the 19-byte header, the body and, with `checksum`,
        the CRC32. Ends at the end of the log when not blocking.

        :raises pymysql.err.MySQLError: the server's error packet (1236: the position is gone), as pymysql
            raises it
        :raises pymysql.err.OperationalError: 2013 when the connection is lost
        """
        conn = self.conn
        if conn is None:
            return
        if conn._sock is not None and conn._current_timeout != conn._read_timeout:
            conn._sock.settimeout(conn._read_timeout)
            conn._current_timeout = conn._read_timeout
        read = conn._rfile.read
        seq = 1
        while True:
            try:
                head = read(4)
                length = int.from_bytes(head[:3], "little")
                data = read(length)
            except OSError as exc:
                self.close()
                raise _lost(str(exc) or type(exc).__name__) from exc
            if len(head) < 4 or len(data) < length:
                self.close()
                raise _lost("the server closed the connection")
            if head[3] != seq:
                self.close()
                if data[:1] == b"\xff":  # an error out of sequence (MariaDB's shutdown error has 0)
                    MysqlPacket(data, "utf8").raise_for_error()
                raise _lost(f"packet sequence {head[3]} where {seq} was expected")
            seq = (seq + 1) & 0xFF
            if length == _MAX_PACKET:
                data, seq = self._rest_of_event(read, data, seq)
            first = data[0]
            if first == 0:
                yield data
            elif first == 0xFF:
                self.close()
                MysqlPacket(data, "utf8").raise_for_error()
            elif first == 0xFE and length < 9:  # EOF: the end of the log (non-blocking dump)
                self.close()
                return
            else:
                self.close()
                raise _lost(f"unexpected packet type {first:#x} in the binlog stream")

    def _rest_of_event(self, read: Any, data: bytes, seq: int) -> tuple[bytes, int]:
        """An event of 16 MiB or more comes in several packets: join them."""
        parts = [data]
        while True:
            head = read(4)
            if len(head) < 4 or head[3] != seq:
                self.close()
                raise _lost("a split event was cut off")
            seq = (seq + 1) & 0xFF
            length = int.from_bytes(head[:3], "little")
            part = read(length)
            if len(part) < length:
                self.close()
                raise _lost("a split event was cut off")
            parts.append(part)
            if length < _MAX_PACKET:
                return b"".join(parts), seq
