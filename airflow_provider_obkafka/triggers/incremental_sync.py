"""The deferrable trigger that tails the binlog from a checkpoint and fires when there is work to do."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.transactions import Commit, Resume
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.engine.pipeline.retry import Backoff, Retrier
from airflow_provider_obkafka.exceptions import ObKafkaError
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import BinlogPosition  # noqa: TC001 - pydantic needs it at runtime

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from airflow_provider_obkafka.engine.binlog.transactions import StreamItem
    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = ["IncrementalSyncArgs", "IncrementalSyncTrigger", "Scan"]

# Binlog header timestamps are whole seconds: the wall clock must pass `end_ts` by this much before a scan
# that reaches the end of the log proves that no transaction committed before `end_ts` is still to come.
SETTLE_S = 1.0


class IncrementalSyncArgs(BaseModel):
    """The trigger's arguments, JSON-safe and validated once; `serialize()` dumps exactly this."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ob_conn_id: str = Field(min_length=1)
    server_id: int = Field(ge=1, le=2**32 - 1)
    position: BinlogPosition
    tables: list[str] = Field(min_length=1)
    batch_size: int = Field(default=10_000, ge=1)
    max_wait_s: float = Field(default=5.0, ge=0)
    end_ts: str | None = None
    poll_interval_s: float = Field(default=1.0, gt=0)
    retry_for_s: float = Field(default=600.0, ge=0)
    skip_committed_before_us: int | None = Field(default=None, ge=0)
    by_gtid: bool = False
    not_before: float | None = Field(default=None, ge=0)

    @field_validator("tables")
    @classmethod
    def _db_dot_table(cls, tables: list[str]) -> list[str]:
        bad = [name for name in tables if name.count(".") != 1 or "" in name.split(".")]
        if bad:
            raise ValueError(f"tables must be 'database.table' names; got {bad!r}")
        return tables

    @field_validator("end_ts")
    @classmethod
    def _aware_iso(cls, end_ts: str | None) -> str | None:
        if end_ts is None:
            return None
        try:
            moment = datetime.fromisoformat(end_ts)
        except ValueError:
            raise ValueError(f"end_ts {end_ts!r} is not an ISO 8601 datetime") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"end_ts {end_ts!r} has no time zone: pass e.g. '{end_ts}+00:00'")
        return end_ts

    @property
    def end_us(self) -> int | None:
        """`end_ts` as µs since the epoch (the unit of `Commit.commit_ts_us`), or None."""
        if self.end_ts is None:
            return None
        return round(datetime.fromisoformat(self.end_ts).timestamp() * 1_000_000)

    def scope(self) -> set[tuple[str, str]]:
        """The in-scope tables as `(database, table)` pairs."""
        return {tuple(name.split(".")) for name in self.tables}  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class Scan:
    """
    What one read of the open stream found: committed in-scope changes, the last commit end, end_ts seen,
    whether it caught up (a heartbeat with no transaction open) and when, and where a new stream would resume.
    """

    changes: int
    last_end: BinlogPosition | None
    past_end: bool
    caught_up: bool
    caught_up_s: float
    resume: BinlogPosition | None
    last_commit_us: int | None = None  # the source commit time of the last transaction read (any table)


class IncrementalSyncTrigger(BaseTrigger):
    """
    Tails the binlog from a checkpoint and fires when committed changes wait to be synchronized.

    The event carries positions only, never rows: `{"status": "ready", "start", "end", "changes",
    "reached_end", "skip_committed_before_us"}` where `start` is the given checkpoint and `end` the position
    after the last commit counted (the next checkpoint), or `{"status": "error", "message", "position",
    "fatal"}` where `fatal` says a retry cannot help (e.g. the position's binlog file was purged).

    One long-lived blocking dump is kept open across the trigger's waits (the OceanBase Binlog Service sends
    a non-blocking dump only one file, `engine/binlog/__init__.py`): the server streams across files, and
    a heartbeat with no transaction open says the trigger has caught up. The dump's socket times out after
    a few heartbeat periods of silence, which counts as a lost connection. Each read runs in a thread and
    returns at the latest at the next heartbeat, so the event loop never waits and the trigger can fire on
    time. A source that restarts or cannot be reached is waited out: the stream is opened again from the
    last resume point (a commit, or a file rotation at a transaction boundary), after 1, 2, 4 ... up to
    30 s (with jitter), for at most `retry_for_s`.

    :param ob_conn_id: the OceanBase (or MySQL-compatible) connection whose Binlog Service is read
    :param server_id: the stable replica id the reader registers with (from the project, never random)
    :param position: the checkpoint to read from, a `BinlogPosition` as JSON (file, position, gtid_set,
        gtid_flavor)
    :param tables: the in-scope tables, as `database.table`
    :param batch_size: fire once this many in-scope row changes are committed
    :param max_wait_s: fire with fewer changes once this many seconds passed since the trigger started, as
        soon as it has read what the log already holds: when caught up, or, while changes keep coming, at the
        first commit one heartbeat period (`poll_interval_s`) later. A backlog is not cut at its first commit.
    :param end_ts: ISO datetime with a zone, the end of the data interval: fire at the first commit at or
        after it (`reached_end`); None runs continuously
    :param poll_interval_s: the heartbeat period asked of the server, seconds: how soon an idle stream
        says it has caught up
    :param retry_for_s: how long an unreachable source is waited out before the trigger reports an error
    :param skip_committed_before_us: the full sync's handoff cutoff (`engine/binlog/handoff.py`), handed back in the
        event for the worker that produces the range; the trigger itself counts every change
    :param by_gtid: read from the position's executed GTID set, not its file and offset (when it has one)
    :param not_before: a ready event waits until this time (s since the epoch): the scheduler must have seen the
        deferring process exit first, else it takes that exit for the resumed try's and kills it (Airflow 3.3)
    """

    def __init__(
        self,
        *,
        ob_conn_id: str,
        server_id: int,
        position: dict[str, Any],
        tables: list[str],
        batch_size: int = 10_000,
        max_wait_s: float = 5.0,
        end_ts: str | None = None,
        poll_interval_s: float = 1.0,
        retry_for_s: float = 600.0,
        skip_committed_before_us: int | None = None,
        by_gtid: bool = False,
        not_before: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ is unannotated
        try:
            self._args = IncrementalSyncArgs(
                ob_conn_id=ob_conn_id, server_id=server_id, position=position, tables=tables,
                batch_size=batch_size, max_wait_s=max_wait_s, end_ts=end_ts, poll_interval_s=poll_interval_s,
                retry_for_s=retry_for_s, skip_committed_before_us=skip_committed_before_us, by_gtid=by_gtid,
                not_before=not_before,
            )  # fmt: skip
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{type(self).__name__}: invalid arguments: {details}") from None
        self._reader: BinlogReader | None = None
        self._items: Iterator[StreamItem] | None = None
        self._settings: tuple[dict[str, Any], bool] | None = None
        self._endpoint = f"change log of connection {ob_conn_id!r}"

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self._args.model_dump(mode="json")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Scan, decide, sleep; yields one event (ready or error)."""
        args = self._args
        try:
            event = await self._wait_for_work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.log.exception("incremental sync trigger failed from %s:%s", args.position.file,
                               args.position.position)  # fmt: skip
            event = {"status": "error", "message": f"{type(exc).__name__}: {exc}",
                     "position": args.position.model_dump(mode="json"),
                     "fatal": isinstance(exc, ObKafkaError)}  # fmt: skip
        if event["status"] == "ready" and args.not_before is not None:  # see `not_before`
            await asyncio.sleep(max(0.0, args.not_before - time.time()))
        yield TriggerEvent(event)

    async def _wait_for_work(self) -> dict[str, Any]:
        args = self._args
        loop = asyncio.get_running_loop()
        started = loop.time()
        resume, last_end, changes = args.position, None, 0
        retry = Retrier(Backoff(give_up_s=args.retry_for_s), {})
        try:
            while True:
                until = time.monotonic() + max(args.max_wait_s - (loop.time() - started), 0.0)
                try:
                    scan = await asyncio.to_thread(self.scan, resume, args.batch_size - changes, until)
                except Exception as exc:
                    await asyncio.to_thread(self.close_stream)
                    retry.endpoints["source"] = self._endpoint
                    delay, message = retry.wait_for(exc, resume)  # raises what is not worth waiting for
                    self.log.warning("%s", message)
                    await asyncio.sleep(delay)
                    continue
                retry.reset()
                changes += scan.changes
                last_end = scan.last_end or last_end
                resume = scan.resume or resume
                end_us = args.end_us
                quiet_end = end_us is not None and scan.caught_up and scan.caught_up_s * 1e6 >= end_us + SETTLE_S * 1e6
                waited = loop.time() - started >= args.max_wait_s
                if changes >= args.batch_size or scan.past_end or quiet_end or (changes and waited):
                    return self._ready(last_end, changes, reached_end=scan.past_end or quiet_end)
                self.log.debug("%d changes up to %s", changes, resume)
        finally:
            await asyncio.to_thread(self.close_stream)

    def _ready(self, end: BinlogPosition | None, changes: int, *, reached_end: bool) -> dict[str, Any]:
        start = self._args.position
        end = end or start
        self.log.info("ready: %d changes from %s:%s to %s:%s (reached_end=%s)", changes, start.file,
                      start.position, end.file, end.position, reached_end)  # fmt: skip
        return {"status": "ready", "start": start.model_dump(mode="json"), "end": end.model_dump(mode="json"),
                "changes": changes, "reached_end": reached_end,
                "skip_committed_before_us": self._args.skip_committed_before_us}  # fmt: skip

    def _connection(self) -> tuple[dict[str, Any], bool]:
        """Binlog connection settings and whether commit times come from OceanBase GTIDs (blocking)."""
        if self._settings is None:
            hook = OceanBaseHook(ob_conn_id=self._args.ob_conn_id)
            host, port = hook.binlog_endpoint()
            self._endpoint = f"change log at {host}:{port}"
            self._settings = (hook.binlog_connection_settings(), hook.server_info().is_oceanbase)
        return self._settings

    def _describe(self, database: str, table: str) -> TableSchema:
        return OceanBaseHook(ob_conn_id=self._args.ob_conn_id).describe_table(database, table)

    def _open(self, start: BinlogPosition) -> Iterator[StreamItem]:
        """The long-lived blocking stream from `start` (blocking: opens a connection)."""
        args = self._args
        settings, oceanbase = self._connection()
        heartbeat = args.poll_interval_s
        settings = {**settings, "read_timeout": max(3 * heartbeat, 2.0)}  # silence past a few heartbeats: lost
        reader = BinlogReader(settings, args.server_id, start, args.scope(), describe=self._describe,
                              blocking=True, heartbeat_s=heartbeat, oceanbase_commit_ts=oceanbase,
                              count_only=True, by_gtid=args.by_gtid and start.gtid_set is not None,
                              markers=True)  # fmt: skip
        self._reader, self._items = reader, reader.iter_changes()
        return self._items

    def scan(self, start: BinlogPosition, budget: int, until: float) -> Scan:
        """
        Read the open stream (opened at `start` if there is none) until `budget` changes, end_ts, caught up,
        or, at a commit, one heartbeat period past the monotonic time `until` or past the first item read,
        whichever is later (blocking): past `until` the read goes on to what the log already holds, since each
        return costs the caller a whole cycle, and connecting never eats that period.
        """
        end_us = self._args.end_us
        items = self._items or self._open(start)
        changes, pending, last_end, resume, seen_us, reading = 0, 0, None, None, None, False
        for item in items:
            if not reading:  # time to read a backlog through and see the caught-up heartbeat
                reading, until = True, max(until, time.monotonic()) + self._args.poll_interval_s
            if isinstance(item, RowChange):  # counted, not decoded (count_only)
                pending += 1  # counted at its commit: an open transaction never counts
            elif isinstance(item, Resume):
                resume = item.position
                if item.idle:
                    return Scan(changes, last_end, False, True, time.time(), resume)
            elif isinstance(item, Commit):
                if end_us is not None and item.commit_ts_us >= end_us:
                    return Scan(changes, last_end, True, False, 0.0, resume)
                changes, pending, last_end = changes + pending, 0, item.end
                resume, seen_us = item.end, item.commit_ts_us
                if changes >= budget or time.monotonic() >= until:
                    return Scan(changes, last_end, False, False, 0.0, resume, seen_us)
        raise ConnectionError("the binlog server ended the blocking dump")  # retried as a lost connection

    def close_stream(self) -> None:
        """Close the stream, if open (blocking)."""
        reader, self._reader, self._items = self._reader, None, None
        if reader is not None:
            reader.close()

    async def cleanup(self) -> None:
        """Close a reader still open (the trigger was cancelled mid-scan); log, never raise."""
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                await asyncio.to_thread(reader.close)
            except Exception:
                self.log.warning("closing the binlog reader failed", exc_info=True)
