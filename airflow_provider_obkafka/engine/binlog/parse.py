"""
Binlog event bodies parsed from raw bytes: pure functions over one event as `engine/binlog/wire.py` reads
it (the OK byte, the 19-byte v4 header, the body, then the CRC32 when checksums are on). `end` is where
the body ends (before the checksum). Event layouts: MySQL's binlog format version 4, which the OceanBase
Binlog Service writes (reference notes §1.1, §1.9), and MariaDB's GTID event.
"""

from __future__ import annotations

import struct

from airflow_provider_obkafka.engine.binlog.events import ob_commit_ts_us
from airflow_provider_obkafka.engine.changes.change import RecordType

__all__ = [
    "ARTIFICIAL", "IN_USE", "COMPRESSED_QUERY", "COMPRESSED_ROWS", "FILE_START", "FORMAT_DESCRIPTION", "GTID", "HEADER",
    "HEARTBEATS", "MARIADB_GTID", "PARTIAL_UPDATE", "QUERY", "ROTATE",
    "ROWS", "ROWS_V2", "TABLE_MAP", "TRANSACTION_PAYLOAD", "XID", "gtid", "mariadb_gtid", "packed_int", "query",
    "rotate_file", "table_id", "table_names", "unreadable",
]  # fmt: skip

QUERY, ROTATE, FORMAT_DESCRIPTION, XID, TABLE_MAP, GTID, PARTIAL_UPDATE = 2, 4, 15, 16, 19, 33, 39
MARIADB_GTID = 162
# A file's first events: FORMAT_DESCRIPTION, PREVIOUS_GTIDS (MySQL, obbinlog), BINLOG_CHECKPOINT, GTID_LIST and
# START_ENCRYPTION (MariaDB). Past them, with no transaction open, the reader stands where the next one starts.
FILE_START = frozenset((FORMAT_DESCRIPTION, 35, 161, 163, 164))
ARTIFICIAL = 0x20  # LOG_EVENT_ARTIFICIAL_F: an event the server made up for the dump (the first ROTATE)
IN_USE = 0x01  # LOG_EVENT_BINLOG_IN_USE_F: set on the FORMAT_DESCRIPTION of a file still being written
HEARTBEATS = frozenset((27, 41))  # HEARTBEAT_LOG_EVENT, and its v2 (MySQL 8.0.26+)
ROWS = {23: RecordType.INSERT, 24: RecordType.UPDATE, 25: RecordType.DELETE,  # v1 (MariaDB)
        30: RecordType.INSERT, 31: RecordType.UPDATE, 32: RecordType.DELETE,  # v2 (MySQL, obbinlog)
        PARTIAL_UPDATE: RecordType.UPDATE}  # fmt: skip
ROWS_V2 = frozenset((30, 31, 32, PARTIAL_UPDATE))
COMPRESSED_ROWS = frozenset(range(166, 172))  # MariaDB log_bin_compress
COMPRESSED_QUERY, TRANSACTION_PAYLOAD = 165, 40  # MariaDB log_bin_compress; MySQL transaction compression
HEADER = struct.Struct("<IBIIIH")  # after the OK byte: timestamp, type, server_id, size, next position, flags
_QQ, _QIB = struct.Struct("<QQ"), struct.Struct("<QIB")


def packed_int(data: bytes, at: int) -> tuple[int, int]:
    """A length-encoded integer at `at`, and the offset after it."""
    first = data[at]
    if first < 0xFB:
        return first, at + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[at + 1 : at + 1 + width], "little"), at + 1 + width


def table_id(data: bytes) -> int:
    """The 6-byte table id that starts TABLE_MAP and rows events."""
    return int.from_bytes(data[20:26], "little")


def table_names(data: bytes) -> tuple[str, str]:
    """Database and table names of a TABLE_MAP event (after the table id and two flag bytes)."""
    at = 28
    db_len = data[at]
    database = data[at + 1 : at + 1 + db_len].decode()
    at += db_len + 2
    return database, data[at + 1 : at + 1 + data[at]].decode()


def rotate_file(data: bytes, end: int) -> str:
    """The next binlog file a ROTATE event names (after its 8-byte position)."""
    return data[28:end].decode()


def gtid(data: bytes, end: int) -> tuple[str, int | None]:
    """
    A MySQL GTID event: `uuid:gno`, and the commit time in µs when it has logical-clock fields (MySQL 5.7
    and later; obbinlog writes the OceanBase commit time there, reference notes §1.9).
    """
    sid = data[21:37].hex()
    number = int.from_bytes(data[37:45], "little")
    text = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}:{number}"
    if end < 62:  # flags, sid, gno only
        return text, None
    last_committed, sequence_number = _QQ.unpack_from(data, 46)
    return text, ob_commit_ts_us(last_committed, sequence_number)


def mariadb_gtid(data: bytes, server_id: int) -> tuple[str, bool]:
    """A MariaDB GTID event: `domain-server-sequence`, and whether it opens a transaction (not standalone)."""
    sequence, domain, flags = _QIB.unpack_from(data, 20)
    return f"{domain}-{server_id}-{sequence}", not flags & 1


def query(data: bytes, end: int, post_header: int = 13) -> tuple[str, str]:
    """A QUERY event: its default database and statement (decoded as the library decodes them)."""
    db_len = data[28]
    status_len = int.from_bytes(data[31:33], "little")
    at = 20 + post_header + status_len
    schema = data[at : at + db_len].decode("utf-8", errors="backslashreplace")
    return schema, data[at + db_len + 1 : end].decode("utf-8", errors="backslashreplace")


def unreadable(kind: int, in_scope_table: str | None, file: str) -> str | None:
    """
    The error for an event this reader cannot open and that may hold changes to synchronize, else None:
    MySQL's compressed transaction payload (any table), MariaDB's compressed rows event of an in-scope table.
    """
    if kind == TRANSACTION_PAYLOAD:
        return (f"a compressed transaction (TRANSACTION_PAYLOAD_EVENT) in {file} cannot be read; set "
                "binlog_transaction_compression=OFF on the source")  # fmt: skip
    if kind in COMPRESSED_ROWS and in_scope_table is not None:
        return (f"table {in_scope_table}: a compressed rows event in {file} cannot be read; set "
                "log_bin_compress=OFF on the source")  # fmt: skip
    return None
