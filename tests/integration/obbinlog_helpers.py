"""Raw replication clients for the obbinlog double's tests: dump packets read off the socket, no library."""

from __future__ import annotations

import struct
import uuid
from typing import TYPE_CHECKING

import pymysql

if TYPE_CHECKING:
    from collections.abc import Iterator

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


def dump_gtid(
    conn: pymysql.connections.Connection, gtids: dict[str, list[tuple[int, int]]], flags: int
) -> None:
    """Send ``COM_BINLOG_DUMP_GTID`` with half-open ``[start, end)`` intervals, from file '' position 4."""
    body = struct.pack("<Q", len(gtids))
    for sid, intervals in gtids.items():
        body += uuid.UUID(sid).bytes + struct.pack("<Q", len(intervals))
        body += b"".join(struct.pack("<QQ", a, b) for a, b in intervals)
    conn._next_seq_id = 0
    head = struct.pack("<BHII", COM_BINLOG_DUMP_GTID, flags, 77, 0) + struct.pack("<QI", 4, len(body))
    conn.write_packet(head + body)


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


def previous_gtids_end(port: int, since: str) -> dict[str, int]:
    """Each file's PREVIOUS_GTIDS end N (``uuid:1-N``, 0 when empty), from ``since`` on."""
    conn, out = connect(port), {}
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        for name in [row[0] for row in cur.fetchall() if row[0] >= since]:
            cur.execute(f"SHOW BINLOG EVENTS IN '{name}' LIMIT 2")
            info = cur.fetchall()[1][5]
            out[name] = int(info.rsplit("-", 1)[1]) if info else 0
    conn.close()
    return out


def first_of_gtid_dump(port: int, uuid: str, have: int) -> tuple[str, int]:
    """(file of the first fake ROTATE, first GTID number) of a GTID dump for ``uuid:1-have``."""
    conn = connect(port, master_binlog_checksum="CRC32")
    dump_gtid(conn, {uuid: [(1, have + 1)]}, flags=5)
    first_file = None
    for _kind, raw in packets(conn):
        first_file = first_file or raw[19 + 8 : -4].decode()
        if header(raw)[1] == 33:
            conn.close()
            return first_file, int.from_bytes(raw[19 + 17 : 19 + 25], "little")
    raise AssertionError("no GTID event")
