"""
Where in the change log a moment lies: the position of the first transaction committed at or after a time.

`position_for_timestamp` lists the binary logs (`SHOW BINARY LOGS`, read by column index: the OceanBase
Binlog Service answers statements it cannot parse with no result set, and mishandles aliases), finds by
binary search the last file created before the time (a file's creation time is its first event's header
timestamp, read over the replication protocol: `SHOW BINLOG EVENTS` has no times), then streams from that
file's start to the first commit at or after the time, one event at a time (nothing is kept in memory; rows
are never decoded). Commit times are those of `engine/binlog/events.py`: the XID header (whole seconds) on
MySQL/MariaDB, the exact OceanBase commit time from the GTID event on the OceanBase Binlog Service.

A result is always a resume point the binlog reader itself reports (the end of a commit or of a standalone
statement), never the start of a file after the first one, so ranges read from different starts agree on it.

Header probes use pymysqlreplication directly (headers only); rows stay in `engine/binlog/reader.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import FormatDescriptionEvent, GtidEvent, QueryEvent, RotateEvent, XidEvent

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.transactions import Commit
from airflow_provider_obkafka.engine.binlog.wire import connect_with_checksum
from airflow_provider_obkafka.exceptions import CapabilityError, CheckpointError, ConfigError
from airflow_provider_obkafka.models.position import BinlogPosition

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "choose_file", "derived_server_id", "earliest_event_time", "file_start_time", "list_binary_logs",
    "position_for_timestamp", "too_early_error",
]  # fmt: skip

log = logging.getLogger(__name__)
_PROBE_EVENTS = [FormatDescriptionEvent, RotateEvent, QueryEvent, XidEvent, GtidEvent]
_PROBE_LIMIT = 8  # the creation time is in the first events of a file (FDE right after the fake ROTATE)


def derived_server_id(server_id: int, purpose: str) -> int:
    """
    A stable replica id for a second reader of the same project (`purpose` e.g. "seek", "backfill/<t>"):
    MySQL and MariaDB drop a dump connection when another registers with the same server_id, so a seek or a
    backfill must not use the id of the trigger that may be tailing the log at the same time.
    """
    digest = int(hashlib.sha256(f"{server_id}/{purpose}".encode()).hexdigest()[:8], 16)
    derived = digest % (2**32 - 2) + 1
    return derived if derived != server_id else derived % (2**32 - 2) + 2


def _sql_settings(settings: dict[str, Any]) -> dict[str, Any]:
    keys = ("host", "port", "user", "password", "charset")
    kwargs = {key: settings[key] for key in keys if key in settings}
    if settings.get("ssl"):
        kwargs["ssl"] = settings["ssl"]
    return {**kwargs, "connect_timeout": 10, "read_timeout": 60}


def list_binary_logs(settings: dict[str, Any]) -> tuple[list[str], bool]:
    """The binary log files, oldest first, and whether the endpoint is OceanBase (its handshake says so)."""
    endpoint = f"{settings.get('host')}:{settings.get('port')}"
    with contextlib.closing(connect_with_checksum(**_sql_settings(settings))) as conn, conn.cursor() as cur:
        oceanbase = _is_oceanbase(conn.get_server_info())
        try:
            cur.execute("SHOW BINARY LOGS")
        except pymysql.err.MySQLError as exc:
            raise CapabilityError(f"{endpoint}: SHOW BINARY LOGS failed ({exc}): no log to seek") from exc
        rows = cur.fetchall() if cur.description else ()
    files = [str(row[0]) for row in rows]
    if not files:
        raise CapabilityError(f"{endpoint} lists no binary logs: binary logging is off, or no Binlog Service")
    return files, oceanbase


def _is_oceanbase(version: str) -> bool:
    """OceanBase through ODP (`...-OceanBase_CE-v4...`) or obbinlog itself (`5.7.35-obs`)."""
    return "oceanbase" in version.lower() or version.endswith("-obs")


def file_start_time(settings: dict[str, Any], server_id: int, file: str) -> datetime | None:
    """When `file` was started: the header time of its first event (the format description), UTC."""
    stream = BinLogStreamReader(
        connection_settings=dict(settings), server_id=server_id, resume_stream=True, log_file=file, log_pos=4,
        blocking=False, only_events=_PROBE_EVENTS, pymysql_wrapper=connect_with_checksum,
        enable_logging=False,
    )  # fmt: skip
    try:
        for seen, event in enumerate(stream):
            if stream.log_file != file or seen >= _PROBE_LIMIT:
                return None
            if event.timestamp:
                return datetime.fromtimestamp(event.timestamp, tz=UTC)
        return None
    finally:
        stream.close()


def earliest_event_time(settings: dict[str, Any], server_id: int) -> datetime | None:
    """How far back the change log reaches: when its oldest file was started (None: not readable)."""
    files, _ = list_binary_logs(settings)
    return file_start_time(settings, server_id, files[0])


def too_early_error(when: datetime, earliest: datetime, file: str) -> CheckpointError:
    """The error for a time the change log no longer reaches back to."""
    return CheckpointError(
        f"the change log no longer reaches back to {when.isoformat()}; its earliest event is "
        f"{earliest.isoformat()} in {file}; choose a later start timestamp or run a full synchronization"
    )


def choose_file(files: Sequence[str], start_of: Callable[[str], datetime | None], when: datetime) -> int:
    """
    The index of the last file started strictly before `when` (header times are whole seconds, so a file
    started in the same second may follow a commit of that second), by binary search; 0 when none is.
    A file whose start cannot be read counts as not before (scanning from earlier is always safe).
    """
    lo, hi = 0, len(files) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        started = start_of(files[mid])
        if started is not None and started < when:
            lo = mid
        else:
            hi = mid - 1
    return lo


def position_for_timestamp(
    settings: dict[str, Any], server_id: int, when: datetime, *, oceanbase_commit_ts: bool | None = None
) -> BinlogPosition:
    """
    The position of the first transaction committed at or after `when` (aware); the end of the log when
    none is. A time before the log's reach raises CheckpointError (not retried: see `too_early_error`).

    :param settings: `OceanBaseHook.binlog_connection_settings()`
    :param server_id: the replica id to register with (see `derived_server_id`)
    :param when: the moment, with a time zone
    :param oceanbase_commit_ts: read commit times from OceanBase GTID events; None: when the endpoint is
        OceanBase
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ConfigError(f"position_for_timestamp: {when.isoformat()} has no time zone")
    files, oceanbase = list_binary_logs(settings)
    ob = oceanbase if oceanbase_commit_ts is None else oceanbase_commit_ts
    earliest = file_start_time(settings, server_id, files[0])
    if earliest is None:
        raise CapabilityError(f"the first binary log {files[0]} has no readable event: cannot tell its time")
    if when < earliest:
        raise too_early_error(when, earliest, files[0])
    index = choose_file(files, lambda file: file_start_time(settings, server_id, file), when)
    when_us = round(when.timestamp() * 1_000_000)
    while True:
        start = BinlogPosition(file=files[index], position=4)
        found = _scan(settings, server_id, start, when_us, ob)
        if found != start or index == 0:
            log.info("first commit at or after %s: %s:%s", when.isoformat(), found.file, found.position)
            return found
        index -= 1  # the answer is the start of a later file: take the last resume point of the file before


def _scan(
    settings: dict[str, Any], server_id: int, start: BinlogPosition, when_us: int, ob: bool
) -> BinlogPosition:
    """From `start`: the start of the first transaction committed at or after `when_us`, else the log end."""
    with BinlogReader(settings, server_id, start, lambda _db, _table: False, blocking=False,
                      oceanbase_commit_ts=ob) as reader:  # fmt: skip
        for item in reader.iter_changes():
            if isinstance(item, Commit) and item.commit_ts_us >= when_us:
                return item.start
        return reader.position
