"""Binlog events as obbinlog encodes them (MySQL 5.7 format, binlog version 4, CRC32 on every event).

Each encoder follows one ``flush_to_buff`` of obbinlog's ``src/binlog/ob_log_event.cpp`` (oblogproxy v4 line,
"release v4.2.0"): the common header, the post-header lengths of ``FormatDescriptionEvent``, the GTID layout
of
``GtidLogEvent``, the half-open GTID intervals of ``PreviousGtidsLogEvent``. Quirks kept on purpose:

* every header carries flags ``0x0001`` (``OblogEventHeader``'s constructor sets ``_flags(1)``);
* the FORMAT_DESCRIPTION's CRC32 is computed with the flags cleared, as MySQL does for an open log, but the
  file keeps the flag set (``FormatDescriptionEvent::flush_to_buff``);
* a HEARTBEAT names the file by its path as the dumper knows it (``./data/mysql-bin.000001``,
  ``BinlogDumper::set_file`` + ``send_heartbeat_event``).
"""

from __future__ import annotations

import struct
import uuid as uuid_mod
import zlib

QUERY, ROTATE, FORMAT_DESCRIPTION, XID, TABLE_MAP = 2, 4, 15, 16, 19
HEARTBEAT, WRITE_ROWS, UPDATE_ROWS, DELETE_ROWS, GTID, PREVIOUS_GTIDS = 27, 30, 31, 32, 33, 35
EVENT_NAMES = {
    QUERY: "Query", ROTATE: "Rotate", FORMAT_DESCRIPTION: "Format_desc", XID: "Xid", TABLE_MAP: "Table_map",
    HEARTBEAT: "Heartbeat", WRITE_ROWS: "Write_rows", UPDATE_ROWS: "Update_rows", DELETE_ROWS: "Delete_rows",
    GTID: "Gtid", PREVIOUS_GTIDS: "Previous_gtids",
}  # fmt: skip
MAGIC = b"\xfebin"
HEADER = struct.Struct("<IBIIIH")
HEADER_LEN = 19
IN_USE_F = 0x0001  # LOG_EVENT_BINLOG_IN_USE_F, set on every header by OblogEventHeader
ARTIFICIAL_F = 0x0020  # LOG_EVENT_ARTIFICIAL_F, the fake ROTATE of BinlogDumper::send_fake_rotate_event
STMT_END_F = 0x0001
SERVER_VERSION = b"5.7.38"  # SERVER_VERSION in ob_log_event.h
# Post-header lengths of event types 1..39, as FormatDescriptionEvent(uint64_t timestamp) lists them.
POST_HEADER_LENS = bytes(
    [56, 13, 0, 8, 0, 18, 0, 4, 4, 4, 4, 18, 0, 0, 96, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10,
     42, 42, 0, 18, 52, 0, 10]
)  # fmt: skip
FDE_LEN = HEADER_LEN + 2 + 50 + 4 + 1 + len(POST_HEADER_LENS) + 1 + 4
# QUERY status vars: Q_FLAGS2_CODE 0, Q_CHARSET_CODE client 45 / connection 45 / server 83
# (parallel_convert_query_event in binlog-instance/parallel_convert.cpp).
QUERY_STATUS = b"\x00" + bytes(4) + b"\x04" + struct.pack("<HHH", 45, 45, 83)


def lenenc(data: bytes, pos: int) -> tuple[int, int]:
    """Read a length-encoded integer at ``pos``; return ``(value, next position)``."""
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "little"), pos + 1 + size


def crc(data: bytes) -> bytes:
    """Return the 4-byte little-endian CRC32 of ``data``."""
    return struct.pack("<I", zlib.crc32(data) & 0xFFFFFFFF)


def encode(etype: int, ts: int, server_id: int, body: bytes, start: int, flags: int = IN_USE_F) -> bytes:
    """Return one event (header, body, CRC32) written at file offset ``start``."""
    length = HEADER_LEN + len(body) + 4
    raw = HEADER.pack(ts, etype, server_id, length, start + length, flags) + body
    return raw + crc(raw)


def format_description(ts: int, server_id: int) -> bytes:
    """FORMAT_DESCRIPTION at offset 4: its CRC is over the header with the in-use flag cleared."""
    body = (
        struct.pack("<H", 4) + SERVER_VERSION.ljust(50, b"\0") + struct.pack("<I", ts) + bytes([HEADER_LEN])
        + POST_HEADER_LENS + b"\x01"
    )  # fmt: skip
    length = HEADER_LEN + len(body) + 4
    cleared = HEADER.pack(ts, FORMAT_DESCRIPTION, server_id, length, 4 + length, 0) + body
    return HEADER.pack(ts, FORMAT_DESCRIPTION, server_id, length, 4 + length, IN_USE_F) + body + crc(cleared)


def previous_gtids_body(sid: bytes, intervals: list[tuple[int, int]]) -> bytes:
    """PREVIOUS_GTIDS body for one server uuid; ``intervals`` are half-open ``[start, end)``."""
    out = [struct.pack("<Q", 1), sid, struct.pack("<Q", len(intervals))]
    out += [struct.pack("<QQ", a, b) for a, b in intervals]
    return b"".join(out)


def parse_previous_gtids(body: bytes) -> dict[str, list[tuple[int, int]]]:
    """Parse a PREVIOUS_GTIDS body (no header, no CRC) into ``{uuid: [[start, end), ...]}``."""
    (n_sids,) = struct.unpack_from("<Q", body, 0)
    pos, out = 8, {}
    for _ in range(n_sids):
        sid = str(uuid_mod.UUID(bytes=body[pos : pos + 16]))
        (n,) = struct.unpack_from("<Q", body, pos + 16)
        pos += 24
        out[sid] = [struct.unpack_from("<QQ", body, pos + 16 * i) for i in range(n)]
        pos += 16 * n
    return out


def gtid_body(sid: bytes, gno: int, ts_us: int) -> bytes:
    """GTID body: commit flag 1, uuid, gno, logical-clock type 2, then the OceanBase commit time.

    ``last_committed`` = seconds and ``sequence_number`` = the µs fraction, as
    ``parallel_convert_gtid_log_event``
    sets them from ``record->getTimestamp()`` and ``record->getRecordUsec()``.
    """
    return b"\x01" + sid + struct.pack("<QBQQ", gno, 2, ts_us // 1_000_000, ts_us % 1_000_000)


def query_body(db: str, sql: str, thread_id: int = 0) -> bytes:
    """QUERY body: thread id, exec time 0, db length, error 0, status vars, db NUL, statement."""
    dbb = db.encode()
    head = struct.pack("<IIBHH", thread_id, 0, len(dbb), 0, len(QUERY_STATUS))
    return head + QUERY_STATUS + dbb + b"\0" + sql.encode()


def xid_body(xid: int) -> bytes:
    """XID body: the 8-byte transaction number."""
    return struct.pack("<Q", xid)


def rotate_body(next_file: str, position: int) -> bytes:
    """ROTATE body: position in the next file, then its name (no NUL)."""
    return struct.pack("<Q", position) + next_file.encode()


def fake_rotate(file: str, position: int, checksum: bool) -> bytes:
    """The ROTATE a dump starts with: timestamp 0, log_pos 0, flags 0x20, CRC only when ``checksum``."""
    body = rotate_body(file, position)
    length = HEADER_LEN + len(body) + (4 if checksum else 0)
    raw = HEADER.pack(0, ROTATE, 0, length, 0, ARTIFICIAL_F) + body
    return raw + crc(raw) if checksum else raw


def heartbeat(server_id: int, ts: int, path: str, pos: int) -> bytes:
    """HEARTBEAT: timestamp of the last event sent, log_pos = the dump's file offset, the file's path."""
    body = path.encode()
    length = HEADER_LEN + len(body) + 4
    raw = HEADER.pack(ts, HEARTBEAT, server_id, length, pos, IN_USE_F) + body
    return raw + crc(raw)


def rows_v2(etype: int, table_id: int, width_and_bitmaps: bytes, row: bytes) -> bytes:
    """A v2 rows body holding one row: table id, STMT_END_F, extra-data length 2, bitmaps, the row."""
    return struct.pack("<Q", table_id)[:6] + struct.pack("<HH", STMT_END_F, 2) + width_and_bitmaps + row


def table_map_body(table_id: int, names_types_meta_nulls: bytes) -> bytes:
    """TABLE_MAP body: table id, flags 1 (TM_BIT_LEN_EXACT_F), then names, types, metadata, null bits."""
    return struct.pack("<Q", table_id)[:6] + struct.pack("<H", 1) + names_types_meta_nulls


def header(raw: bytes, offset: int = 0) -> tuple[int, int, int, int, int, int]:
    """Return ``(timestamp, type, server_id, length, log_pos, flags)`` of the event at ``offset``."""
    return HEADER.unpack_from(raw, offset)
