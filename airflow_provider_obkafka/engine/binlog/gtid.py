"""
GTID sets: the executed set followed transaction by transaction, and the dump request that starts from one.

Two flavors, as `BinlogPosition.gtid_flavor` names them:

* `mysql` (MySQL, and the OceanBase Binlog Service: one GTID per OceanBase transaction, the instance's
  `server_uuid`, kept continuous when a binlog task is rebuilt, reference notes §1.5, §1.7):
  `uuid:1-100:102-110,uuid2:1-5`, intervals per source UUID.
* `mariadb`: `domain-server-sequence,...`, the last GTID per replication domain (`gtid_binlog_pos`).
"""

from __future__ import annotations

import struct
import uuid
from typing import TYPE_CHECKING

from airflow_provider_obkafka.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["GtidTracker", "covers", "executed_in", "flavor_of", "mysql_gtid_set_payload"]


def flavor_of(gtid_set: str, flavor: str | None = None) -> str:
    """The set's flavor: the one given, else `mysql` when it names UUIDs, else `mariadb`."""
    if flavor in ("mysql", "mariadb"):
        return flavor
    return "mysql" if ":" in gtid_set else "mariadb"


def _bad(gtid_set: str, why: str) -> ConfigError:
    return ConfigError(f"GTID set {gtid_set!r}: {why}; give it as the server prints it (gtid_executed or "
                       "gtid_binlog_pos)")  # fmt: skip


def _mysql_intervals(gtid_set: str) -> dict[str, list[list[int]]]:
    """`uuid:1-5:7,uuid2:3` as {uuid: [[1, 5], [7, 7]], ...}, intervals sorted and merged."""
    found: dict[str, list[list[int]]] = {}
    for member in filter(None, (part.strip() for part in gtid_set.replace("\n", "").split(","))):
        sid, *ranges = member.split(":")
        try:
            key = str(uuid.UUID(sid))
            spans = [[int(r.split("-")[0]), int(r.split("-")[-1])] for r in ranges]
        except ValueError as exc:
            raise _bad(gtid_set, f"{member!r} is not uuid:interval[:interval...]") from exc
        if not spans or any(start < 1 or end < start for start, end in spans):
            raise _bad(gtid_set, f"{member!r} has no valid interval")
        found[key] = _merge(found.get(key, []) + spans)
    return found


def _merge(spans: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _mariadb_domains(gtid_set: str) -> dict[int, tuple[int, int]]:
    """`0-1-100,1-2-7` as {domain: (server, sequence)}."""
    found: dict[int, tuple[int, int]] = {}
    for member in filter(None, (part.strip() for part in gtid_set.split(","))):
        try:
            domain, server, sequence = (int(part) for part in member.split("-"))
        except ValueError as exc:
            raise _bad(gtid_set, f"{member!r} is not domain-server-sequence") from exc
        found[domain] = (server, sequence)
    return found


def covers(bigger: str, smaller: str, flavor: str | None = None) -> bool:
    """
    Whether the executed set `bigger` holds every transaction of `smaller`: the order of two positions read
    by GTID, whatever the binlog files are called. MariaDB: every domain of `smaller` is in `bigger` with a
    sequence at least as high.
    """
    kind = flavor_of(bigger or smaller, flavor)
    if kind == "mariadb":
        have = _mariadb_domains(bigger)
        wanted = _mariadb_domains(smaller).items()
        return all(domain in have and have[domain][1] >= seq for domain, (_, seq) in wanted)
    have_spans = _mysql_intervals(bigger)
    for sid, spans in _mysql_intervals(smaller).items():
        held = have_spans.get(sid, [])
        if not all(any(a <= start and end <= b for a, b in held) for start, end in spans):
            return False
    return True


class GtidTracker:
    """
    The executed GTID set, from a starting set, with each transaction's GTID added as it is read.

    :param gtid_set: the set executed at the starting position
    :param flavor: `mysql` or `mariadb` (see `flavor_of`)
    """

    def __init__(self, gtid_set: str, flavor: str | None = None) -> None:
        self.flavor = flavor_of(gtid_set, flavor)
        self._mysql = _mysql_intervals(gtid_set) if self.flavor == "mysql" else {}
        self._mariadb = _mariadb_domains(gtid_set) if self.flavor == "mariadb" else {}
        self._text: str | None = None

    def add(self, gtid: str) -> None:
        """Add one transaction's GTID (`uuid:n`, or `domain-server-sequence`) as the binlog names it."""
        self._text = None
        if self.flavor == "mariadb":
            domain, server, sequence = (int(part) for part in gtid.split("-"))
            self._mariadb[domain] = (server, sequence)
            return
        sid, number_text = gtid.rsplit(":", 1)
        number = int(number_text)
        spans = self._mysql.setdefault(sid, [])
        if spans and spans[-1][0] <= number <= spans[-1][1] + 1:  # the usual case: the next number
            spans[-1][1] = max(spans[-1][1], number)
        else:
            spans.append([number, number])
            self._mysql[sid] = _merge(spans)

    def __str__(self) -> str:
        if self._text is None:
            if self.flavor == "mariadb":
                self._text = ",".join(f"{d}-{s}-{n}" for d, (s, n) in sorted(self._mariadb.items()))
            else:
                self._text = ",".join(
                    sid + "".join(f":{a}" if a == b else f":{a}-{b}" for a, b in spans)
                    for sid, spans in sorted(self._mysql.items())
                )
        return self._text


def executed_in(gtid_set: str) -> Callable[[str], bool]:
    """A test of whether one MySQL GTID (`uuid:n`) is in the MySQL set `gtid_set`, which is parsed once."""
    spans = _mysql_intervals(gtid_set)

    def test(gtid: str) -> bool:
        sid, _, number = gtid.rpartition(":")
        n = int(number)
        return any(a <= n <= b for a, b in spans.get(sid, ()))

    return test


def mysql_gtid_set_payload(gtid_set: str) -> bytes:
    """
    A MySQL GTID set encoded as `COM_BINLOG_DUMP_GTID` carries it (sids, then half-open intervals), with the
    last transaction of each interval left out: the server sends those again, and the reader skips them
    (`executed_in`). The OceanBase Binlog Service picks the file to start from by comparing each file's
    PREVIOUS_GTIDS with the client's half-open intervals as if they were closed (`seek_first_binlog_file`,
    `binlog_dumper.cpp`): given `uuid:1-(P-1)` it starts in the file whose PREVIOUS_GTIDS is `uuid:1-P`,
    past transaction P. Given one less, it starts early enough; MySQL, which compares right, resends them.
    """
    sets = {sid: kept for sid, spans in _mysql_intervals(gtid_set).items()
            if (kept := [(start, end) for start, end in spans if end > start])}  # fmt: skip
    out = [struct.pack("<Q", len(sets))]
    for sid, spans in sorted(sets.items()):
        out.append(uuid.UUID(sid).bytes + struct.pack("<Q", len(spans)))
        out.extend(struct.pack("<QQ", start, end) for start, end in spans)  # half-open: `end` itself left out
    return b"".join(out)
