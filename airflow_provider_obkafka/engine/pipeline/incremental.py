"""
The worker side of incremental synchronization: produce a change-log range through the router
(`engine/routing/router.py`) in Kafka transactions (one per batch, each with its checkpoint), waiting out
source and broker outages. The source and Kafka come in as a `RangeIo` the caller builds (the operator, from
its hooks; `engine/pipeline/range_job.py`), so this loop knows no Airflow. Used by `IncrementalSyncOperator`
for the ranges its trigger reports, for backfill intervals, and for a streaming worker's open range (no end,
`RangeJob.pace`): one dump, one transactional producer and one read of the checkpoints while changes come.
"""

from __future__ import annotations

import functools
import itertools
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.binlog.gtid import covers
from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.schema_history import HistoryCursor, SchemaHistory, unprocessable
from airflow_provider_obkafka.engine.changes.change import DbType, RowChange
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.copy_range import Slices, copy_range
from airflow_provider_obkafka.engine.pipeline.report import CommittedBatch
from airflow_provider_obkafka.engine.pipeline.retry import Retrier, retry_call
from airflow_provider_obkafka.engine.routing.router import Router
from airflow_provider_obkafka.engine.serializers.sequence import SEQUENCE_FIELD
from airflow_provider_obkafka.exceptions import ConfigError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from airflow_provider_obkafka.engine.binlog.transactions import SchemaChange, StreamItem
    from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
    from airflow_provider_obkafka.engine.pipeline.range_job import RangeIo, RangeJob, Source
    from airflow_provider_obkafka.models.position import BinlogPosition
    from airflow_provider_obkafka.models.project import SyncProject

START_FORMAT = "ISO 8601 with a time zone, e.g. 2024-05-01T08:00:00+08:00 or 2024-05-01T00:00:00Z"
SKEW = timedelta(minutes=1)
READ_AHEAD = 10_000  # changes read from the change log while the Kafka side is set up (bounded memory)
RANGE_READ_TIMEOUT_S = 30.0  # a range's blocking dump hears a heartbeat every second when idle
STREAM_HEARTBEAT_S = 0.25  # an open range's: the last changes before a pause commit about this long after it
#: In a checkpoint value inside a source transaction: how many in-scope changes after its position (the
#: transaction's start) are committed (`options.max_changes_per_kafka_transaction`); absent at a boundary.
WITHIN_TRANSACTION_FIELD = "committed_in_transaction"


def parse_start_timestamp(value: str | datetime | None, now: datetime | None = None) -> datetime | None:
    """The operator's `start_timestamp` argument: None for "", "None" (an empty template) or None."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = (value or "").strip()
        if text in ("", "None"):
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"start_timestamp {value!r} is not a valid time: use {START_FORMAT}") from None
    if moment.utcoffset() is None:
        raise ConfigError(f"start_timestamp {value!r} has no time zone: use {START_FORMAT}")
    now = now or datetime.now(UTC)
    if moment > now + SKEW:
        stamp = now.isoformat()
        raise ConfigError(f"start_timestamp {value!r} is in the future (now {stamp}): use a past time")
    return moment.astimezone(UTC)


def produce_range(project: SyncProject, job: RangeJob, io: RangeIo, retry: Retrier, log: Any) -> int:
    """Produce `job`, retrying outages from the last committed batch; the changes committed."""
    committed = [0]
    at: list[BinlogPosition | None] = [job.start]
    retry_call(lambda: _attempt(project, job, io, committed, at, log), retry, position=lambda: at[0],
               logger=log)  # fmt: skip
    if job.oversize.committed:
        log.warning("rows too large for Kafka, skipped or sent to the dead-letter topic (oversize_rows), by "
                    "table: %s", job.oversize.summary())  # fmt: skip
    return committed[0]


def _kafka_side(project: SyncProject, job: RangeJob, io: RangeIo) -> tuple[TransactionalSink, Mapping[str, Any]]:
    """The sink of a transactional producer (fencing any earlier try of this unit), then the checkpoints."""
    sink = io.sink(checkpoints.transactional_id(project.slug, *job.txn_parts))
    # the producer fenced any earlier try of this unit before the checkpoint is read
    return sink, io.checkpoints()


def _read_ahead(items: Iterator[StreamItem], until: Future[Any], limit: int) -> tuple[list[StreamItem], Any]:
    """
    Up to `limit` items read while `until` runs (the Kafka side releases the GIL while it waits), then the rest:
    a change that cannot be processed fails once reached, never if the checkpoint says to start elsewhere.
    """
    ahead: list[StreamItem] = []
    try:
        while not until.done() and len(ahead) < limit and (item := next(items, None)) is not None:
            ahead.append(item)
    except SchemaError as exc:
        return ahead, _failing(exc)
    return ahead, items


def _failing(exc: Exception) -> Iterator[StreamItem]:
    raise exc
    yield  # a generator that raises when read


@dataclass
class _Opened:
    """A try's two sides, set up side by side: the source's (router, reader, read ahead, schema history), Kafka's."""

    source: Source
    router: Router
    reader: BinlogReader
    items: Iterator[StreamItem]
    ahead: list[StreamItem]
    sink: TransactionalSink
    record: dict[str, Any] | None
    history: SchemaHistory
    rendering: HistoryCursor
    create_topic: Callable[[str], None] | None = None


def _open(project: SyncProject, job: RangeJob, io: RangeIo, guess: BinlogPosition) -> _Opened:
    """
    The Kafka side (fencing, then the checkpoint: 0.05–0.6 s) in a thread while the source side connects and
    reads ahead from `guess`, where this range (or the last try) stands. Nothing is produced before the fence.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="obkafka-fence") as pool:
        kafka_side = pool.submit(_kafka_side, project, job, io)
        source = io.source()
        history = SchemaHistory(source.describe, lambda: checkpoints.schema_records(kafka_side.result()[1]))
        rendering = history.cursor(guess)
        router = Router(project, rendering.describe, source.db_type, source.tenant, io.message_limit, job.oversize)
        reader, items = _reader(source, router, job, guess, history)
        ahead: list[StreamItem] = []
        try:
            if job.end is None or not at_or_after(guess, job.end, job.by_gtid):
                ahead, items = _read_ahead(items, kafka_side, READ_AHEAD)
            sink, state = kafka_side.result()
        except BaseException:
            reader.close()
            raise
    return _Opened(source, router, reader, items, ahead, sink, state.get(job.key), history, rendering, io.create_topic)


def _attempt(
    project: SyncProject, job: RangeJob, io: RangeIo, committed: list[int], at: list[Any], log: Any
) -> None:
    """
    One try at the range (`_open`): what was read ahead is kept when the checkpoint says to start there, else
    the range is read again from where the checkpoint says. The sort sequence goes on above the checkpoint's.
    """
    guess: BinlogPosition = at[0] or job.start
    opened = _open(project, job, io, guess)
    sink, record = opened.sink, opened.record
    opened.router.sequence.resume(record)
    start, skip = job.start, 0
    if record is not None:
        resume = job.resume_of(record)
        if not at_or_after(start, resume, job.by_gtid):
            start = resume  # resume after what is already committed
        if _same(start, resume, job.by_gtid):  # inside a split source transaction: skip its committed part
            skip = int(record.get(WITHIN_TRANSACTION_FIELD) or 0)
    at[0] = opened.rendering.position = start
    if job.end is not None and at_or_after(start, job.end, job.by_gtid):
        opened.reader.close()
        if record is None:  # nothing to read: record where the next range starts
            sink.begin()
            sink.checkpoint(job.key, job.value_of(start, True))
            sink.commit()
        return
    if not _same(start, guess, job.by_gtid):  # the read-ahead started elsewhere: read again from the start
        opened.reader.close()
        opened.reader, opened.items = _reader(opened.source, opened.router, job, start, opened.history)
        opened.ahead = []
    if skip:
        log.info("resuming inside the transaction at %s:%s: its first %d changes are committed", start.file,
                 start.position, skip)  # fmt: skip
    slices = Slices(start, limit=project.options.max_changes_per_kafka_transaction, skip=skip)
    _copy(job, opened, committed, at, log, slices)


def _log_batch(log: Any, batch: CommittedBatch) -> None:
    """A committed batch at DEBUG, when no observer was given (`RangeJob.observe`)."""
    log.debug("%d changes committed up to %s:%s", batch.total, batch.position.file, batch.position.position)


def _copy(
    job: RangeJob, opened: _Opened, committed: list[int], at: list[Any], log: Any, slices: Slices
) -> None:
    """
    Produce the range from the opened reader, a Kafka transaction per batch with its checkpoint, and per
    slice of a source transaction larger than `slices.limit` with a checkpoint inside it.
    """
    router, reader, sink = opened.router, opened.reader, opened.sink
    pending: list[Any] = [0, None]  # changes sent in the open transaction, the last one's commit time
    observe = job.observe or functools.partial(_log_batch, log)

    def send(change: RowChange) -> int:
        sent = router.send(change, sink)
        pending[0] += sent
        pending[1] = change.commit_ts_us if change.commit_ts_us is not None else pending[1]
        return sent

    def commit(position: BinlogPosition, done: bool, within: int = 0) -> None:  # with the last sort sequence
        for ref, record in opened.history.records().items():  # the schema history, with the rows it decoded
            sink.checkpoint(checkpoints.schema_key(*ref), record)
        value = {**job.value_of(position, done), SEQUENCE_FIELD: router.sequence.last}
        sink.checkpoint(job.key, {**value, WITHIN_TRANSACTION_FIELD: within} if within else value)
        sink.commit()
        router.oversize.settle()
        committed[0] += pending[0]
        observe(CommittedBatch(pending[0], committed[0], position, pending[1], time.time()))
        pending[0], pending[1], at[0] = 0, None, position
        job.reached = position
        if within:  # a source transaction too big for one Kafka transaction: a slice of it is committed
            log.info("%d changes committed up to %s:%s and %d changes of the transaction there", committed[0],
                     position.file, position.position, within)  # fmt: skip

    def on_ddl(item: SchemaChange) -> None:
        log.warning("DDL on %s.%s at %s: %s", item.database, item.table, item.position, item.statement)
        opened.rendering.position = item.position  # the rows after it: the definition it left
        router.schema_changed(item, sink, opened.create_topic, log)

    def batch(position: BinlogPosition) -> None:
        commit(position, False)
        sink.begin()

    def split(position: BinlogPosition, within: int) -> None:
        commit(position, False, within)
        sink.begin()

    slices.on_split = split

    sink.begin()
    try:
        copy_range(itertools.chain(opened.ahead, opened.items), job.end, send=send, on_batch=batch,
                   on_schema_change=on_ddl, batch_size=job.batch_size, position=lambda: reader.read_to,
                   slices=slices, pace=job.pace)  # fmt: skip
        commit(job.end or reader.position, True)
        if reader.skipped_changes:
            log.info("%d changes skipped: committed before the full sync's snapshot, which holds them",
                     reader.skipped_changes)  # fmt: skip
    except SchemaError as exc:  # a change that cannot be processed: where, why, and the way out
        sink.abort()
        router.oversize.drop()
        raise SchemaError(unprocessable(exc, reader.position)) from exc
    except BaseException:
        sink.abort()
        router.oversize.drop()
        raise
    finally:
        reader.close()


def _reader(
    source: Source, router: Router, job: RangeJob, start: BinlogPosition, history: SchemaHistory
) -> tuple[BinlogReader, Iterator[StreamItem]]:
    """
    The range's reader from `start` and its items, decoded with the schema history's definitions as it reads
    on: ONE blocking dump that ends at the range's end. obbinlog answers a non-blocking dump with one file,
    then EOF (`BinlogDumper::run`), so a non-blocking read would open a dump per file. An open range's dump
    gives a `Resume` at each idle heartbeat (every `STREAM_HEARTBEAT_S`), where it commits and may end.
    """
    decoding = history.cursor(start)
    settings = {"read_timeout": RANGE_READ_TIMEOUT_S, **source.binlog_settings}  # a silent server: lost
    open_range = job.end is None
    reader = BinlogReader(settings, job.server_id, start, router.in_scope,
                          describe=decoding.describe, blocking=True, stop_at=job.end, markers=open_range,
                          heartbeat_s=STREAM_HEARTBEAT_S if open_range else 1.0,
                          oceanbase_commit_ts=source.db_type is DbType.OB_MYSQL,
                          skip_committed_before_us=job.skip_committed_before_us,
                          by_gtid=job.by_gtid and start.gtid_set is not None)  # fmt: skip
    return reader, decoding.follow(reader.iter_changes())


def at_or_after(a: BinlogPosition, b: BinlogPosition, by_gtid: bool) -> bool:
    """
    `a` is at or after `b`: by executed GTID set when reading by GTID and both have one (the file names may
    differ, e.g. after the Binlog Service was rebuilt), else by file and offset.
    """
    if by_gtid and a.gtid_set and b.gtid_set:
        return covers(a.gtid_set, b.gtid_set, a.gtid_flavor)
    return a.sort_key() >= b.sort_key()


def _same(a: BinlogPosition, b: BinlogPosition, by_gtid: bool) -> bool:
    return at_or_after(a, b, by_gtid) and at_or_after(b, a, by_gtid)
