"""The MySQL client/server protocol as the double speaks it: packets, handshake, OK/ERR/EOF, text result sets.

obbinlog's own protocol code is ``src/binlog/mysql-protocol/`` and ``src/binlog/connection.cpp``: a v10
handshake announcing ``5.7.35-obs`` (``HandshakePacket::mysql_server_version``), EOF packets after column
definitions and rows (no ``CLIENT_DEPRECATE_EOF``), ERR packets with SQL state ``HY000``. Authentication here
is
``mysql_native_password`` for ``root`` with an empty password, like the project's MariaDB service.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable, Sequence

MAX_PACKET = 0xFFFFFF
CAPS = 0x0001 | 0x0004 | 0x0008 | 0x0200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x80000
T_LONGLONG, T_VAR_STRING = 0x08, 0xFD


def lenenc_int(n: int) -> bytes:
    """Encode ``n`` as a length-encoded integer."""
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(value: str | bytes | None) -> bytes:
    """Encode a text-protocol value (None is NULL)."""
    if value is None:
        return b"\xfb"
    data = value.encode() if isinstance(value, str) else value
    return lenenc_int(len(data)) + data


class Conn:
    """
    One client connection: framed reads and writes with sequence numbers.

    :param sock: the accepted socket
    :param conn_id: the connection id announced in the handshake
    """

    def __init__(self, sock: socket.socket, conn_id: int) -> None:
        self.sock, self.conn_id, self.seq = sock, conn_id, 0
        self.rfile = sock.makefile("rb")
        self.user = ""

    def read(self) -> bytes | None:
        """Read one (possibly split) packet; None when the client has gone."""
        parts = []
        while True:
            head = self.rfile.read(4)
            if len(head) < 4:
                return None
            length = int.from_bytes(head[:3], "little")
            self.seq = (head[3] + 1) & 0xFF
            data = self.rfile.read(length)
            if len(data) < length:
                return None
            parts.append(data)
            if length < MAX_PACKET:
                return b"".join(parts)

    def frame(self, payload: bytes) -> bytes:
        """Frame ``payload`` into one or more packets, advancing the sequence number."""
        out = []
        while True:
            chunk, payload = payload[:MAX_PACKET], payload[MAX_PACKET:]
            out.append(len(chunk).to_bytes(3, "little") + bytes([self.seq]) + chunk)
            self.seq = (self.seq + 1) & 0xFF
            if len(chunk) < MAX_PACKET:
                return b"".join(out)

    def send(self, *payloads: bytes) -> None:
        """Send packets in one write."""
        self.sock.sendall(b"".join(self.frame(p) for p in payloads))

    def send_events(self, raws: Iterable[bytes]) -> None:
        """Binlog events, each as one packet behind the OK byte, in one write (`send`, with fewer copies)."""
        parts: list[bytes] = []
        for raw in raws:
            size = len(raw) + 1
            if size < MAX_PACKET:
                parts += ((size | self.seq << 24).to_bytes(4, "little"), b"\x00", raw)
                self.seq = (self.seq + 1) & 0xFF
            else:
                parts.append(self.frame(b"\x00" + raw))
        self.sock.sendall(b"".join(parts))

    def ok(self) -> None:
        """OK packet (autocommit status)."""
        self.send(b"\x00\x00\x00\x02\x00\x00\x00")

    def err(self, code: int, message: str, state: str = "HY000") -> None:
        """ERR packet."""
        self.send(b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + message.encode())

    def eof(self) -> None:
        """EOF packet (no warnings, autocommit status)."""
        self.send(b"\xfe\x00\x00\x02\x00")

    def columns(self, names: Sequence[tuple[str, int]]) -> None:
        """Column count, definitions and EOF: the head of a result set."""
        defs = [lenenc_int(len(names))]
        for name, ctype in names:
            head = b"".join(lenenc_str(x) for x in ("def", "", "", "", name, name))
            defs.append(head + b"\x0c" + struct.pack("<HIBHB", 33, 255, ctype, 0, 0x1F) + b"\0\0")
        defs.append(b"\xfe\x00\x00\x02\x00")
        self.send(*defs)

    def rows(self, rows: Iterable[Sequence[object]]) -> None:
        """Rows, then EOF."""
        out = [b"".join(lenenc_str(None if v is None else str(v)) for v in row) for row in rows]
        self.send(*out, b"\xfe\x00\x00\x02\x00")

    def result(self, names: Sequence[tuple[str, int]], rows: Iterable[Sequence[object]]) -> None:
        """A whole text result set."""
        self.columns(names)
        self.rows(rows)

    def handshake(self, version: str) -> bool:
        """Greet, read the client's answer, accept root without password; False when refused or gone."""
        salt = os.urandom(20).replace(b"\0", b"\1")
        self.seq = 0
        greeting = (
            b"\x0a" + version.encode() + b"\0" + struct.pack("<I", self.conn_id) + salt[:8] + b"\0"
            + struct.pack("<HBHH", CAPS & 0xFFFF, 33, 2, CAPS >> 16) + bytes([21]) + bytes(10) + salt[8:]
            + b"\0mysql_native_password\0"
        )  # fmt: skip
        self.send(greeting)
        answer = self.read()
        if answer is None or len(answer) < 33:
            return False
        user, auth = self._parse_login(answer)
        self.user = user
        if user.split("@")[0] != "root" or auth:
            self.err(
                1045, f"Access denied for user '{user}' (using password: {'YES' if auth else 'NO'})", "28000"
            )
            return False
        self.ok()
        return True

    @staticmethod
    def _parse_login(answer: bytes) -> tuple[str, bytes]:
        """Return (user, auth response) of a HandshakeResponse41."""
        (caps,) = struct.unpack_from("<I", answer, 0)
        end = answer.index(b"\0", 32)
        user, pos = answer[32:end].decode(errors="replace"), end + 1
        n, pos = answer[pos], pos + 1  # lenenc (PLUGIN_AUTH_LENENC) or 1-byte length: one byte below 251
        return user, answer[pos : pos + n]
