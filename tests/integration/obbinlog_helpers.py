"""Raw replication clients for the obbinlog double's tests: dump packets read off the socket, no library."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator

import pymysql

COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID = 0x12, 0x1E


def connect(port: int, **session: object) -> pymysql.connections.Connection:
    """A root connection to the double with session variables set (``SET @name = value``)."""
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", read_timeout=30)
    with conn.cursor() as cur:
        for name, value in session.items():
            cur.execute(f"SET @{name} = %s", (value,))
    return conn


def dump(conn: pymysql.connections.Connection, file: str, pos: int, flags: int) -> None:
    """Send ``COM_BINLOG_DUMP``."""
    conn._next_seq_id = 0
    conn.write_packet(struct.pack("<BIHI", COM_BINLOG_DUMP, pos, flags, 77) + file.encode())


def dump_gtid(conn: pymysql.connections.Connection, gtids: dict[str, list[tuple[int, int]]], flags: int) -> None:
    """Send ``COM_BINLOG_DUMP_GTID`` with half-open ``[start, end)`` intervals, from file '' position 4."""
    body = struct.pack("<Q", len(gtids))
    for sid, intervals in gtids.items():
        body += uuid.UUID(sid).bytes + struct.pack("<Q", len(intervals))
        body += b"".join(struct.pack("<QQ", a, b) for a, b in intervals)
    conn._next_seq_id = 0
    conn.write_packet(struct.pack("<BHII", COM_BINLOG_DUMP_GTID, flags, 77, 0) + struct.pack("<QI", 4, len(body))
                      + body)  # fmt: skip


def packets(conn: pymysql.connections.Connection) -> Iterator[tuple[str, bytes]]:
    """``("event", raw event)`` per event, then ``("eof", b"")``; an ERR packet raises pymysql's error."""
    while True:
        packet = conn._read_packet()  # raises on ERR
        data = packet.get_all_data()
        if data[:1] == b"\xfe" and len(data) < 9:
            yield "eof", b""
            return
        yield "event", data[1:]


def header(raw: bytes) -> tuple[int, int, int, int, int, int]:
    """``(timestamp, type, server_id, length, log_pos, flags)``."""
    return struct.unpack_from("<IBIIIH", raw, 0)
