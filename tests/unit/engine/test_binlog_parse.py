"""Binlog event bodies parsed from bytes built by hand, field by field, as binlog format version 4 lays them out."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest

from airflow_provider_obkafka.engine.binlog import parse as bp


def _event(kind: int, body: bytes, *, server_id: int = 7, crc: bool = True) -> tuple[bytes, int]:
    """An event as the wire carries it (OK byte, header, body, CRC32), and where its body ends."""
    size = 19 + len(body) + (4 if crc else 0)
    data = b"\x00" + bp.HEADER.pack(1_700_000_000, kind, server_id, size, 1234, 0) + body
    end = len(data)
    if crc:
        data += zlib.crc32(data[1:]).to_bytes(4, "little")
    return data, end


def test_header():
    data, _ = _event(bp.XID, struct.pack("<Q", 99))
    assert bp.HEADER.unpack_from(data, 1) == (1_700_000_000, bp.XID, 7, len(data) - 1, 1234, 0)


@pytest.mark.parametrize(
    ("encoded", "value"),
    [(b"\x05", 5), (b"\xfa", 250), (b"\xfc\xfb\x00", 251), (b"\xfd\x01\x00\x01", 65537),
     (b"\xfe" + (2**40).to_bytes(8, "little"), 2**40)],
)  # fmt: skip
def test_packed_int(encoded, value):
    assert bp.packed_int(b"??" + encoded + b"!", 2) == (value, 2 + len(encoded))


def test_table_map_names_and_id():
    body = (77).to_bytes(6, "little") + b"\x01\x00" + b"\x04shop\x00" + b"\x06orders\x00" + b"\x01\x03"
    data, _ = _event(bp.TABLE_MAP, body)
    assert bp.table_id(data) == 77
    assert bp.table_names(data) == ("shop", "orders")


def test_rotate_names_the_next_file():
    data, end = _event(bp.ROTATE, struct.pack("<Q", 4) + b"mysql-bin.000042")
    assert bp.rotate_file(data, end) == "mysql-bin.000042"


def test_mysql_gtid_with_the_oceanbase_commit_time():
    sid = uuid.UUID("3e11fa47-71ca-11e1-9e33-c80aa9429562")
    head = b"\x01" + sid.bytes + struct.pack("<Q", 23)
    clock = b"\x02" + struct.pack("<QQ", 1_700_000_123, 456_789)  # obbinlog: seconds, then the µs fraction
    data, end = _event(bp.GTID, head + clock)
    assert bp.gtid(data, end) == ("3e11fa47-71ca-11e1-9e33-c80aa9429562:23", 1_700_000_123_456_789)
    short, short_end = _event(bp.GTID, head)  # no logical-clock fields (before MySQL 5.7)
    assert bp.gtid(short, short_end) == ("3e11fa47-71ca-11e1-9e33-c80aa9429562:23", None)


def test_mariadb_gtid_standalone_flag():
    opening, _ = _event(bp.MARIADB_GTID, struct.pack("<QIB", 900, 2, 0), server_id=11)
    standalone, _ = _event(bp.MARIADB_GTID, struct.pack("<QIB", 901, 2, 1), server_id=11)
    assert bp.mariadb_gtid(opening, 11) == ("2-11-900", True)
    assert bp.mariadb_gtid(standalone, 11) == ("2-11-901", False)


def test_query_with_status_variables():
    status = b"\x00\x00\x00\x00\x00\x03std\x21\x00"  # any bytes: skipped by their length
    statement = "ALTER TABLE orders ADD COLUMN note VARCHAR(10) COMMENT 'café'".encode()
    post = struct.pack("<IIBHH", 5, 0, len(b"shop"), 0, len(status))
    data, end = _event(bp.QUERY, post + status + b"shop\x00" + statement)
    assert bp.query(data, end) == ("shop", statement.decode())
    bad, bad_end = _event(bp.QUERY, struct.pack("<IIBHH", 5, 0, 0, 0, 0) + b"\x00" + b"SET x = '\xff'")
    assert bp.query(bad, bad_end) == ("", "SET x = '\\xff'")  # undecodable bytes kept visible, as the library


def test_unreadable_events():
    assert "binlog_transaction_compression=OFF" in bp.unreadable(bp.TRANSACTION_PAYLOAD, None, "f.000001")
    assert "table shop.orders" in bp.unreadable(166, "shop.orders", "f.000001")
    assert "log_bin_compress=OFF" in bp.unreadable(169, "shop.orders", "f.000001")
    assert bp.unreadable(166, None, "f.000001") is None  # a compressed event of an out-of-scope table
    assert bp.unreadable(bp.XID, None, "f.000001") is None
