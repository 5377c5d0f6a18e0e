"""The double's binlog files, index and state (obbinlog's ``BinlogStorage`` and ``BinlogIndexManager``).

Modelled on ``src/binlog/binlog-instance/binlog_storage.cpp`` and ``src/binlog/binlog_index.cpp`` (oblogproxy
v4 line, "release v4.2.0"):

* files ``mysql-bin.000001`` ... (``CommonUtils::fill_binlog_file_name``: prefix ``mysql-bin``, 6 digits)
  under
  ``data/``, listed in ``data/mysql-bin.index`` (``BinlogIndexRecord::to_string``: path, index, mappings,
  checkpoint, position, tab-separated);
* each file opens with FORMAT_DESCRIPTION and PREVIOUS_GTIDS (``init_next_binlog_file``); the first file's
  PREVIOUS_GTIDS names the uuid with no interval ("an initialized binlog file", ``is_subset_executed_gtid``);
* a file is rotated after the transaction (XID) or DDL that takes it past ``max_binlog_size``, with a ROTATE
  appended to it (``BinlogStorage`` ``is_rotate`` + ``rotate_binlog_file``): files end slightly past the size;
* ``PURGE BINARY LOGS TO 'f'`` removes ``f`` itself and every older file, never the active one
  (``purge_binlog_to_file``); an unknown file is "Failed to find binlog file <path>".

Not modelled: the OB-transaction to GTID mapping recovery. Restart is exact instead: ``state.json`` records
the
MariaDB position, the next GTID number and every file's size after the last transaction, written after the
transaction's single append; a restart cuts the active file back to that size and re-reads MariaDB from there,
which re-encodes the same bytes (commit times and numbers derive from the recorded state).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid as uuid_mod
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devservices.obbinlog import events as ev

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)
PREFIX = "mysql-bin"
SAVE_EVERY_S = 0.1  # the state is written at most this often, and at each rotation, purge and stop


@dataclass
class FileInfo:
    """One binlog file: its number, size, first GTID number and last commit second."""

    index: int
    size: int
    first_gno: int
    checkpoint: int = 0

    @property
    def name(self) -> str:
        """Return ``mysql-bin.NNNNNN``."""
        return f"{PREFIX}.{self.index:06d}"

    def copy(self) -> FileInfo:
        """A copy, for readers outside the store's lock."""
        return FileInfo(self.index, self.size, self.first_gno, self.checkpoint)


class BinlogStore:
    """
    Append-only binlog files fed one committed transaction at a time; readers follow with ``wait``.

    :param root: the double's data folder (binlog files go to ``root/data``)
    :param server_id: server id written in every event header
    :param max_size: rotate once a file passes this many bytes
    """

    def __init__(self, root: Path, server_id: int, max_size: int) -> None:
        self.root, self.dir = root, root / "data"
        self.server_id, self.max_size = server_id, max_size
        self.cond = threading.Condition()
        self.dir.mkdir(parents=True, exist_ok=True)
        state = self._load()
        self.uuid: str = state.get("uuid") or str(uuid_mod.uuid4())
        self.sid = uuid_mod.UUID(self.uuid).bytes
        self.next_gno: int = state.get("next_gno", 1)
        self.xid: int = state.get("xid", 0)
        self.last_ts_us: int = state.get("last_ts_us", 0)
        self.purged_gno: int = state.get("purged_gno", 0)
        self.source: dict = state.get("source", {})
        self.ddl_count: dict[str, int] = state.get("ddl_count", {})
        self.files = [FileInfo(**f) if isinstance(f, dict) else FileInfo(*f) for f in state.get("files", [])]
        # name -> file: every dump looks its files up, and a long test run leaves thousands of them
        self._by_name = {f.name: f for f in self.files}
        self._fh = None
        self._saved_at, self._dirty = 0.0, False
        self._recover()

    # ---- state --------------------------------------------------------------------------------
    def _load(self) -> dict:
        """Return the saved state, or ``{}`` on first start."""
        try:
            return json.loads((self.root / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def save_if_due(self, force: bool = False) -> None:
        """Write the state when it changed and ``SAVE_EVERY_S`` passed (or ``force``)."""
        with self.cond:
            if self._dirty and (force or time.monotonic() - self._saved_at >= SAVE_EVERY_S):
                self._save()

    def _save(self) -> None:
        """Write the state atomically (no fsync: a crash of the machine is out of scope)."""
        data = {
            "uuid": self.uuid, "next_gno": self.next_gno, "xid": self.xid, "last_ts_us": self.last_ts_us,
            "purged_gno": self.purged_gno, "source": self.source, "ddl_count": self.ddl_count,
            "files": [[f.index, f.size, f.first_gno, f.checkpoint] for f in self.files],
        }  # fmt: skip
        self._saved_at, self._dirty = time.monotonic(), False
        tmp = self.root / "state.json.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.root / "state.json")

    def _recover(self) -> None:
        """Drop what was written after the last saved state (or create the first file); open the active file.

        Re-reading MariaDB from the saved position re-encodes the same bytes: numbers, commit times and table
        ids all derive from the saved state.
        """
        if not self.files:
            self._start_file(1, int(time.time()))
            self._save()
            self._write_index()
            return
        cur = self.files[-1]
        for path in self.dir.glob(f"{PREFIX}.[0-9]*"):
            if int(path.suffix[1:]) > cur.index:
                log.warning("%s was written after the last saved state: removed", path.name)
                path.unlink()
        path = self.path(cur.name)
        if path.stat().st_size != cur.size:
            log.warning(
                "%s: %d bytes on disk, %d recorded: cut back", cur.name, path.stat().st_size, cur.size
            )
            os.truncate(path, cur.size)
        self._fh = path.open("ab")

    def path(self, name: str) -> Path:
        """Return the path of binlog file ``name``."""
        return self.dir / name

    # ---- writing ------------------------------------------------------------------------------
    def _start_file(self, index: int, ts: int) -> None:
        """Create file ``index`` with FORMAT_DESCRIPTION and PREVIOUS_GTIDS, and make it the active one."""
        intervals = [(1, self.next_gno)] if self.next_gno > 1 else []
        fde = ev.format_description(ts, self.server_id)
        prev = ev.encode(ev.PREVIOUS_GTIDS, ts, self.server_id, ev.previous_gtids_body(self.sid, intervals),
                         4 + len(fde))  # fmt: skip
        data = ev.MAGIC + fde + prev
        info = FileInfo(index=index, size=len(data), first_gno=self.next_gno, checkpoint=ts)
        if self._fh is not None:
            self._fh.close()
        self._fh = self.path(info.name).open("wb")
        self._fh.write(data)
        self._fh.flush()
        self.files.append(info)
        self._by_name[info.name] = info

    def commit_ts(self, seconds: int) -> int:
        """A strictly increasing µs commit time: the source's second, or 1 µs after the previous one."""
        return max(seconds * 1_000_000, self.last_ts_us + 1)

    def append(self, seconds: int, body: list[tuple[int, bytes]], source: dict, ddl: bool = False) -> int:
        """
        Append one transaction: GTID, then ``body`` (BEGIN ... rows or the DDL), then XID unless ``ddl``.

        :returns: the transaction's µs commit time
        """
        with self.cond:
            ts_us = self.commit_ts(seconds)
            ts, cur = ts_us // 1_000_000, self.files[-1]
            parts = [(ev.GTID, ev.gtid_body(self.sid, self.next_gno, ts_us)), *body]
            if not ddl:
                parts.append((ev.XID, ev.xid_body(self.xid + 1)))
            pos, out, pack, crc32, sid = cur.size, [], ev.HEADER.pack, zlib.crc32, self.server_id
            for etype, payload in parts:  # ev.encode, inlined: this loop runs twice per row
                length = ev.HEADER_LEN + len(payload) + 4
                raw = pack(ts, etype, sid, length, pos + length, ev.IN_USE_F) + payload
                out += (raw, (crc32(raw) & 0xFFFFFFFF).to_bytes(4, "little"))
                pos += length
            self._fh.write(b"".join(out))
            self._fh.flush()
            cur.size, cur.checkpoint = pos, ts
            self.next_gno, self.xid = self.next_gno + 1, self.xid + (0 if ddl else 1)
            self.last_ts_us, self.source, self._dirty = ts_us, source, True
            if cur.size > self.max_size:
                self._rotate(ts)
                self._save()
            self.save_if_due()
            self.cond.notify_all()
            return ts_us

    def _rotate(self, ts: int) -> None:
        """End the active file with a ROTATE and start the next one."""
        cur = self.files[-1]
        nxt = FileInfo(index=cur.index + 1, size=0, first_gno=self.next_gno)
        raw = ev.encode(ev.ROTATE, ts, self.server_id, ev.rotate_body(nxt.name, 4), cur.size)
        self._fh.write(raw)
        self._fh.flush()
        cur.size += len(raw)
        self._start_file(nxt.index, ts)
        self._write_index()

    def _write_index(self) -> None:
        """Rewrite ``mysql-bin.index`` (one line per file, as ``BinlogIndexRecord::to_string``)."""
        lines = []
        lasts = [g.first_gno - 1 for g in self.files[1:]] + [self.next_gno - 1]
        for f, last in zip(self.files, lasts, strict=True):
            lines.append(
                f"./data/{f.name}\t{f.index}\t={last}\t={max(f.first_gno - 1, 0)}\t{f.checkpoint}\t{f.size}\n"
            )
        tmp = self.dir / f"{PREFIX}.index.tmp"
        tmp.write_text("".join(lines))
        os.replace(tmp, self.dir / f"{PREFIX}.index")

    def _following(self, f: FileInfo) -> FileInfo | None:
        """The file after ``f`` in the index, if any (files are numbered one after the other: ``_rotate``)."""
        return self._by_name.get(FileInfo(f.index + 1, 0, 0).name)

    def _last_gno(self, f: FileInfo) -> int:
        """The last GTID number written to ``f`` (``first_gno - 1`` when it has none)."""
        later = self._following(f)
        return (later.first_gno if later is not None else self.next_gno) - 1

    # ---- reading ------------------------------------------------------------------------------
    def listing(self) -> list[FileInfo]:
        """A copy of the file list, oldest first."""
        with self.cond:
            return [f.copy() for f in self.files]

    def find(self, name: str) -> FileInfo | None:
        """The file called ``name``, or None when it is not in the index (never written, or purged)."""
        with self.cond:
            f = self._by_name.get(name)
            return None if f is None else f.copy()

    def next_name(self, name: str) -> str | None:
        """The file after ``name`` in the index, or None when ``name`` is the last or not in it."""
        with self.cond:
            f = self._by_name.get(name)
            after = None if f is None else self._following(f)
            return None if after is None else after.name

    def is_active(self, name: str) -> bool:
        """Whether ``name`` is the file being written."""
        with self.cond:
            return bool(self.files) and self.files[-1].name == name

    def wait(self, name: str, pos: int, timeout: float) -> int:
        """Wait up to ``timeout`` s for ``name`` to grow past ``pos``; return its committed size."""
        with self.cond:
            info = self._by_name.get(name)
            if info is not None and info.size <= pos and self.files[-1] is info:
                self.cond.wait(timeout)
            return info.size if info is not None else pos

    def size(self, name: str, default: int) -> int:
        """The committed size of ``name`` (``default`` when it is not in the index)."""
        with self.cond:
            info = self._by_name.get(name)
            return default if info is None else info.size

    def gtid_executed(self) -> str:
        """``uuid:1-N`` of every transaction written, empty before the first."""
        with self.cond:
            return f"{self.uuid}:1-{self.next_gno - 1}" if self.next_gno > 1 else ""

    def gtid_purged(self) -> str:
        """``uuid:1-N`` of the transactions whose files were purged."""
        with self.cond:
            return f"{self.uuid}:1-{self.purged_gno}" if self.purged_gno else ""

    # ---- purge ----------------------------------------------------------------------------------
    def purge_to(self, name: str) -> str | None:
        """Remove ``name`` and every older file except the active one; return an error text or None."""
        with self.cond:
            names = [f.name for f in self.files]
            if name not in names:
                return f"Failed to find binlog file ./data/{name}"
            self._purge(self.files[: names.index(name) + 1])
            return None

    def purge_before(self, seconds: int) -> None:
        """Remove the files whose last commit is before ``seconds`` (``purge_binlog_before_ts``)."""
        with self.cond:
            self._purge([f for f in self.files if f.checkpoint < seconds])

    def _purge(self, victims: list[FileInfo]) -> None:
        """Drop ``victims`` (never the active file) from the index, then delete their files."""
        victims = [f for f in victims if f is not self.files[-1]]
        for f in victims:
            self.purged_gno = max(self.purged_gno, self._last_gno(f))
        gone = {id(f) for f in victims}
        self.files = [f for f in self.files if id(f) not in gone]
        self._by_name = {f.name: f for f in self.files}
        self._write_index()
        self._save()
        for f in victims:
            self.path(f.name).unlink(missing_ok=True)
        log.info("purged %s", ", ".join(f.name for f in victims) or "nothing")

    def close(self) -> None:
        """Write the index and state, then close the active file."""
        with self.cond:
            self._write_index()
            self._save()
            if self._fh is not None:
                self._fh.close()
                self._fh = None
