"""``COM_BINLOG_DUMP`` and ``COM_BINLOG_DUMP_GTID`` as obbinlog's ``BinlogDumper`` serves them.

Source: ``src/binlog/binlog-instance/binlog_dumper.cpp`` (oblogproxy v4 line, "release v4.2.0"; the 2.x
``src/binlog/binlog_dumper.cpp`` of ``oceanbase/oblogproxy`` has the same loop). Modelled:

* ``run``: per file, a fake ROTATE (timestamp 0, log_pos 0, flags ``0x20``; CRC32 only if the session's
  ``@master_binlog_checksum`` is ``CRC32``, else per the last FORMAT_DESCRIPTION read), then the file's
  FORMAT_DESCRIPTION exactly as stored (its log_pos is its real end, even when the dump starts later), then
  the
  events from the requested position. With flags exactly ``1`` (``BINLOG_DUMP_NON_BLOCK``) the dump ends after
  this one file with an EOF packet, even when later files exist; any other flags value blocks and moves on to
  the next file (``seek_next_binlog``) with a new fake ROTATE.
* ``send_binlog``: after each batch of events a heartbeat is sent (``conn_liveness``), also in a non-blocking
  dump; when idle, ``wait_event`` sends one every ``@master_heartbeat_period`` ns / 1000 µs (default
  ``binlog_heartbeat_interval_us`` = 100 ms; 0 sends none). A heartbeat's timestamp is that of the last event
  sent (``_checkpoint_ts``), its log_pos the dump's offset, its body the file's path (``./data/...``).
* ``check_start_file``: unknown (or purged) file → 1236 "Could not find first log file name in binary log
  index file"; position past the end → 1236 "Client requested master to start replication from position > file
  size"; below 4 → "... from position < 4"; an offset that is not an event → "Failed to verify first event
  from
  starting position".
* ``seek_first_binlog_file`` (GTID dump): from the newest file back, the first whose PREVIOUS_GTIDS is within
  the
  client's set, comparing the file's closed interval with the client's half-open one as the source does (an
  off-by-one: a set ending one short of a file's PREVIOUS_GTIDS still selects that file); none → 1236 "The
  requested gtid transaction no longer exists and may have been cleaned up". Transactions in the client's set
  are skipped (``skip_event``/``handle_gtid_event``).
"""

from __future__ import annotations

import logging
import struct
import uuid as uuid_mod
from typing import TYPE_CHECKING

from devservices.obbinlog import events as ev

if TYPE_CHECKING:
    from devservices.obbinlog.protocol import Conn
    from devservices.obbinlog.store import BinlogStore

log = logging.getLogger(__name__)
NON_BLOCK = 1
DEFAULT_HEARTBEAT_US = 100_000  # binlog_heartbeat_interval_us in conf.json (4.2.0)
FATAL = 1236
BATCH_BYTES = 1 << 20


class DumpError(Exception):
    """The dump ends with this 1236 message."""


def parse_dump(payload: bytes) -> tuple[str, int, int]:
    """``COM_BINLOG_DUMP`` body → (file, position, flags)."""
    pos, flags, _server_id = struct.unpack_from("<IHI", payload, 1)
    return payload[11:].decode(), pos, flags


def parse_dump_gtid(payload: bytes) -> tuple[str, int, int, dict[str, list[tuple[int, int]]]]:
    """``COM_BINLOG_DUMP_GTID`` body → (file, position, flags, {uuid: [[start, end), ...]})."""
    flags, _server_id, name_len = struct.unpack_from("<HII", payload, 1)
    off = 11 + name_len
    name = payload[11:off].decode()
    pos, _size, n_sids = struct.unpack_from("<QIQ", payload, off)
    off += 20
    gtids: dict[str, list[tuple[int, int]]] = {}
    for _ in range(n_sids):
        sid = str(uuid_mod.UUID(bytes=payload[off : off + 16]))
        (n,) = struct.unpack_from("<Q", payload, off + 16)
        off += 24
        gtids[sid] = [struct.unpack_from("<QQ", payload, off + 16 * i) for i in range(n)]
        off += 16 * n
    return name, pos, flags, gtids


class Dumper:
    """
    One dump on one connection.

    :param conn: the client connection (the dump command was its last packet)
    :param store: the binlog files
    :param session: the connection's session variables (``master_binlog_checksum``,
        ``master_heartbeat_period``)
    :param flags: the dump flags
    :param gtids: the client's executed set for a GTID dump, else None
    """

    def __init__(self, conn: Conn, store: BinlogStore, session: dict[str, str], flags: int,
                 gtids: dict[str, list[tuple[int, int]]] | None = None) -> None:  # fmt: skip
        self.conn, self.store, self.flags, self.gtids = conn, store, flags, gtids
        checksum = session.get("master_binlog_checksum", "")
        self.checksum = checksum.upper() == "CRC32" if checksum else True  # init_binlog_checksum
        period = session.get("master_heartbeat_period")
        self.heartbeat_us = int(float(period)) // 1000 if period not in (None, "") else DEFAULT_HEARTBEAT_US
        self.last_ts = 0
        self.skipping = False

    def run(self, file: str, pos: int) -> None:
        """Serve the dump until the client goes (blocking) or the file ends (non-blocking)."""
        try:
            if self.gtids is not None:
                file = self._seek_first_file()
            self._check_start(file, pos)
            file = file or self.store.listing()[0].name
            while True:
                self.conn.send(b"\x00" + ev.fake_rotate(file, pos, self.checksum))
                self._send_file(file, pos)
                if self.flags == NON_BLOCK:
                    self.conn.eof()
                    return
                file, pos = self._next_file(file), 4
        except DumpError as exc:
            self.conn.err(FATAL, str(exc))
        except OSError as exc:
            log.info("dump ended: %s", exc)

    def _check_start(self, file: str, pos: int) -> None:
        """Refuse a start position as ``check_start_file`` does."""
        if not file:
            return
        info = self.store.find(file)
        if info is None:
            raise DumpError("Could not find first log file name in binary log index file")
        if self.gtids is not None:
            return
        if pos > info.size:
            raise DumpError("Client requested master to start replication from position > file size")
        if pos < 4:
            raise DumpError("Client requested master to start replication from position < 4")
        if 4 < pos < info.size and not self._is_event_at(file, pos, info.size):
            raise DumpError("Failed to verify first event from starting position")

    def _is_event_at(self, file: str, pos: int, size: int) -> bool:
        """Whether an event with a right CRC32 starts at ``pos`` (``verify_event_checksum``)."""
        with self.store.path(file).open("rb") as fh:
            fh.seek(pos)
            head = fh.read(ev.HEADER_LEN)
            if len(head) < ev.HEADER_LEN:
                return False
            length = ev.header(head)[3]
            if length < ev.HEADER_LEN + 4 or pos + length > size:
                return False
            rest = fh.read(length - ev.HEADER_LEN)
        return ev.crc((head + rest)[:-4]) == rest[-4:]

    def _seek_first_file(self) -> str:
        """The file a GTID dump starts from (``seek_first_binlog_file``)."""
        files = self.store.listing()
        if not self.gtids:
            return files[0].name
        for info in reversed(files):
            with self.store.path(info.name).open("rb") as fh:
                head = fh.read(4 + ev.FDE_LEN + 4096)
            prev = head[4 + ev.FDE_LEN :]
            if ev.header(prev)[1] != ev.PREVIOUS_GTIDS:
                break
            body = prev[ev.HEADER_LEN : ev.header(prev)[3] - 4]
            if self._within_client_set(ev.parse_previous_gtids(body)):
                return info.name
        raise DumpError("The requested gtid transaction no longer exists and may have been cleaned up")

    def _within_client_set(self, prev: dict[str, list[tuple[int, int]]]) -> bool:
        """``is_subset_executed_gtid``: the file's first interval (closed) in a client one (half-open)."""
        subset = True
        for sid, intervals in prev.items():
            if sid not in self.gtids:
                subset = False
                continue
            if not intervals:
                return True
            first, last = intervals[0][0], intervals[0][1] - 1
            subset = any(first >= a and last <= b for a, b in self.gtids[sid])
            if not subset:
                return False
        return subset

    def _next_file(self, file: str) -> str:
        """The file after ``file`` in the index (``seek_next_binlog``)."""
        after = self.store.next_name(file)
        if after is None:
            raise DumpError("could not find next log.")
        return after

    def _send_file(self, file: str, start: int) -> None:
        """``send_binlog``: FORMAT_DESCRIPTION, then events up to the ROTATE (or the end, non-blocking)."""
        path = self.store.path(file)
        try:
            fh = path.open("rb")
        except OSError:
            raise DumpError("failed to open binlog file") from None
        with fh:
            fde = fh.read(4 + ev.FDE_LEN)[4:]
            self._send_events([fde])
            pos = max(start, 4 + ev.FDE_LEN)
            self.skipping = False
            while True:
                size = self.store.size(file, pos)
                if pos >= size:
                    if not self.store.is_active(file) or self.flags == NON_BLOCK:
                        return
                    size = self._wait_idle(file, pos)
                    continue
                fh.seek(pos)
                data = fh.read(min(size - pos, BATCH_BYTES))
                first = ev.header(data, 0)[3] if len(data) >= ev.HEADER_LEN else 0
                if first > len(data):  # an event bigger than a batch (a 1 MB row's two images): all of it
                    data += fh.read(first - len(data))
                pos, rotated = self._send_range(data, pos)
                self._heartbeat(file, pos)  # conn_liveness
                if rotated:
                    return

    def _wait_idle(self, file: str, pos: int) -> int:
        """``wait_event``: wait for new events, sending a heartbeat every period without any."""
        wait_s = (self.heartbeat_us or DEFAULT_HEARTBEAT_US) / 1_000_000
        size = self.store.wait(file, pos, wait_s)
        if size <= pos and self.store.is_active(file) and self.heartbeat_us:
            self._heartbeat(file, pos)
        return size

    def _send_range(self, data: bytes, pos: int) -> tuple[int, bool]:
        """Send the whole events of ``data`` (read at ``pos``); return the new offset and if a ROTATE went."""
        off, out, rotated = 0, [], False
        while off + ev.HEADER_LEN <= len(data):
            ts, etype, _sid, length, _end, _flags = ev.header(data, off)
            if off + length > len(data):
                break
            if etype == ev.GTID and self.gtids:
                self.skipping = self._in_client_set(data[off + 20 : off + 44])
            if not self.skipping or etype == ev.ROTATE:
                out.append(data[off : off + length])
                self.last_ts = ts
            off += length
            if etype == ev.ROTATE:
                rotated = True
                break
        self._send_events(out)
        return pos + off, rotated

    def _in_client_set(self, sid_gno: bytes) -> bool:
        """Whether the GTID (uuid + gno) is in the client's set (``handle_gtid_event``)."""
        sid = str(uuid_mod.UUID(bytes=sid_gno[:16]))
        (gno,) = struct.unpack_from("<Q", sid_gno, 16)
        return any(a <= gno < b for a, b in self.gtids.get(sid, []))

    def _send_events(self, raws: list[bytes]) -> None:
        """Each event as one packet (OK byte + event), written together."""
        if raws:
            if raws[0][4] == ev.FORMAT_DESCRIPTION:
                self.checksum = raws[0][-5] == 1
                self.last_ts = ev.header(raws[0])[0]
            self.conn.send_events(raws)

    def _heartbeat(self, file: str, pos: int) -> None:
        """A HEARTBEAT stamped with the last event's time."""
        self.conn.send(b"\x00" + ev.heartbeat(self.store.server_id, self.last_ts, f"./data/{file}", pos))
