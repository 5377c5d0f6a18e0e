"""
Rows of bytes read straight off a pymysql connection's socket, for results whose every column is binary.

pymysql reads a result row by row in pure Python: a packet object, a sequence check, an EOF test and a
decode-and-convert step per value, about 2.5 µs per row of two columns. A result that the server has
already rendered (`engine.snapshot.render`: every column a binary string) needs none of the per-value work, so
`read_bytes_rows` parses the MySQL text protocol's row packets from pymysql's buffered socket reader in one
loop over a buffer, several times cheaper. It takes over an unbuffered result pymysql has started
(`SSCursor.execute` read the column descriptions) and leaves the connection as pymysql expects it after the
last row (result finished, sequence id advanced), so the cursor and connection close normally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymysql.err import InternalError
from pymysql.protocol import MysqlPacket

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pymysql.cursors import SSCursor

__all__ = ["read_bytes_rows"]

_MAX_PACKET = 0xFFFFFF
_READ_SIZE = 1 << 18


def read_bytes_rows(cursor: SSCursor, batch_size: int) -> Iterator[list[tuple[bytes | None, ...]]]:
    """
    The remaining rows of the cursor's unbuffered result, each value bytes or None, in lists of up to
    `batch_size`.

    :param cursor: an `SSCursor` right after `execute` of a query whose columns are all binary strings
    :raises pymysql.err.MySQLError: the server's error packet, as pymysql raises it
    :raises ValueError: a row of 16 MiB or more (split over several packets; use the pymysql path)
    """
    conn: Any = cursor.connection  # its private reader and sequence id: not in pymysql's stubs
    result = conn._result
    if result is None or not result.unbuffered_active:
        return
    columns = result.field_count
    read1 = conn._rfile.read1
    seq = conn._next_seq_id
    buf, pos = b"", 0
    rows: list[tuple[bytes | None, ...]] = []
    while True:
        if len(buf) - pos < 4:
            buf, pos = buf[pos:] + _read(read1), 0
            continue
        length = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
        end = pos + 4 + length
        if end > len(buf):
            buf, pos = buf[pos:] + _read(read1, end - len(buf)), 0
            continue
        if length >= _MAX_PACKET:
            raise ValueError("a result row of 16 MiB or more: read this table with render_on_server=False")
        if buf[pos + 3] != seq:
            raise InternalError(f"packet sequence {buf[pos + 3]} where {seq} was expected")
        seq = (seq + 1) & 0xFF
        first = buf[pos + 4]
        if first == 0xFE and length < 9 or first == 0xFF:  # EOF: the result's end; 0xFF: an error packet
            conn._next_seq_id = seq
            _finish(result, MysqlPacket(buf[pos + 4 : end], conn.encoding))
            if end != len(buf):  # one statement, one result: nothing may follow its end
                raise InternalError(f"{len(buf) - end} unexpected bytes after the end of a result")
            if rows:
                yield rows
            return
        row: list[bytes | None] = []
        at = pos + 4
        for _ in range(columns):
            size = buf[at]
            if size < 0xFB:
                at += 1
                row.append(buf[at : at + size])
                at += size
                continue
            if size == 0xFB:
                row.append(None)
                at += 1
                continue
            width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[size]
            size = int.from_bytes(buf[at + 1 : at + 1 + width], "little")
            at += 1 + width
            row.append(buf[at : at + size])
            at += size
        rows.append(tuple(row))
        pos = end
        if len(rows) >= batch_size:
            yield rows
            rows = []


def _read(read1: Any, at_least: int = 1) -> bytes:
    """At least `at_least` more bytes from the socket (one or more reads)."""
    data: bytes = read1(max(_READ_SIZE, at_least))
    if not data:
        raise ConnectionError("the server closed the connection in the middle of a result")
    while len(data) < at_least:
        more = read1(max(_READ_SIZE, at_least - len(data)))
        if not more:
            raise ConnectionError("the server closed the connection in the middle of a result")
        data += more
    return data


def _finish(result: Any, packet: MysqlPacket) -> None:
    """End the result as pymysql does at its EOF packet; an error packet raises the server's error."""
    result.unbuffered_active = False
    result.connection = None
    if packet.is_error_packet():
        packet.raise_for_error()
