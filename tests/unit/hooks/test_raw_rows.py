"""`read_bytes_rows` on hand-made MySQL row packets: value lengths, NULL, the end, errors, sequence ids."""

from __future__ import annotations

import io
import struct
from types import SimpleNamespace

import pytest
from pymysql.err import InternalError, OperationalError

from airflow_provider_obkafka.hooks.raw_rows import read_bytes_rows

EOF_PACKET = b"\xfe\x00\x00\x02\x00"


def value(data: bytes | None) -> bytes:
    if data is None:
        return b"\xfb"
    size = len(data)
    if size < 0xFB:
        prefix = bytes([size])
    elif size < 1 << 16:
        prefix = b"\xfc" + size.to_bytes(2, "little")
    elif size < 1 << 24:
        prefix = b"\xfd" + size.to_bytes(3, "little")
    else:
        prefix = b"\xfe" + size.to_bytes(8, "little")
    return prefix + data


def packets(payloads: list[bytes], first_seq: int = 3) -> bytes:
    out = b""
    for seq, payload in enumerate(payloads, first_seq):
        out += len(payload).to_bytes(3, "little") + bytes([seq & 0xFF]) + payload
    return out


class Reader(io.RawIOBase):
    """A socket that hands out at most `step` bytes per read, so packets straddle reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(self.step, len(buffer))
        chunk, self.data = self.data[:size], self.data[size:]
        buffer[: len(chunk)] = chunk
        return len(chunk)


def cursor(data: bytes, step: int = 7, columns: int = 2) -> SimpleNamespace:
    result = SimpleNamespace(unbuffered_active=True, field_count=columns, connection=None)
    reader = io.BufferedReader(Reader(data, step))
    conn = SimpleNamespace(_rfile=reader, _result=result, _next_seq_id=3, encoding="utf8")
    result.connection = conn
    return SimpleNamespace(connection=conn)


@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_rows_of_every_length_encoding_and_null(step):
    rows = [(b"1", b"x" * 250), (b"2", b"y" * 251), (None, b"z" * 70_000), (b"", None)]
    cur = cursor(packets([b"".join(value(v) for v in row) for row in rows] + [EOF_PACKET]), step)
    batches = list(read_bytes_rows(cur, 3))
    assert batches == [rows[:3], rows[3:]]
    assert cur.connection._result.unbuffered_active is False, "pymysql then closes the cursor without reading"
    assert cur.connection._next_seq_id == (3 + 5) & 0xFF


def test_sequence_ids_wrap_around():
    rows = [(str(i).encode(),) for i in range(300)]
    cur = cursor(packets([value(row[0]) for row in rows] + [EOF_PACKET]), columns=1)
    assert [row for batch in read_bytes_rows(cur, 1000) for row in batch] == rows


def test_an_error_packet_raises_the_server_error():
    error = b"\xff" + struct.pack("<H", 4012) + b"#HY000Timeout, query has reached the maximum query timeout"
    cur = cursor(packets([value(b"1") + value(b"a"), error]))
    with pytest.raises(OperationalError, match="4012"):
        list(read_bytes_rows(cur, 10))


def test_a_packet_out_of_sequence_is_an_error():
    data = packets([value(b"1") + value(b"a")]) + packets([EOF_PACKET], first_seq=9)
    with pytest.raises(InternalError, match="sequence 9 where 4"):
        list(read_bytes_rows(cursor(data), 10))


def test_a_connection_closed_mid_result_is_an_error():
    with pytest.raises(ConnectionError, match="closed the connection"):
        list(read_bytes_rows(cursor(packets([value(b"1") + value(b"a")])), 10))
