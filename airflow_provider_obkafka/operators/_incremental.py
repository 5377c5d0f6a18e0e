"""
The worker side of incremental synchronization: route changes to topics, and produce a change-log range
in Kafka transactions (one per batch, each with its checkpoint), waiting out source and broker outages.
Used by `IncrementalSyncOperator` for the ranges its trigger reports and for backfill intervals.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine import checkpoints
from airflow_provider_obkafka.engine.binlog_reader import BinlogReader
from airflow_provider_obkafka.engine.change import DbType, RecordType, RowChange, TableContext, build_table_context
from airflow_provider_obkafka.engine.change_range import copy_range
from airflow_provider_obkafka.engine.partitioning import partition_rule
from airflow_provider_obkafka.engine.retry import Backoff, Retrier, retry_call
from airflow_provider_obkafka.engine.serializers import record_function, serializer_for
from airflow_provider_obkafka.engine.sink import Send, TransactionalSink, sink_producer_config
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import checkpoint_state

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_obkafka.engine.binlog_events import SchemaChange, StreamItem
    from airflow_provider_obkafka.engine.serializers import Record
    from airflow_provider_obkafka.models.position import BinlogPosition
    from airflow_provider_obkafka.models.project import SyncProject

START_FORMAT = "ISO 8601 with a time zone, e.g. 2024-05-01T08:00:00+08:00 or 2024-05-01T00:00:00Z"
SKEW = timedelta(minutes=1)
READ_AHEAD = 10_000  # changes read from the change log while the Kafka side is set up (bounded memory)


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


def endpoints(project: SyncProject) -> dict[str, str]:
    """What a retry waits for, by kind, for the log line."""
    host, port = OceanBaseHook(ob_conn_id=project.source.conn_id).binlog_endpoint()
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    bootstrap = kafka.client_config().get("bootstrap.servers")
    return {"source": f"change log at {host}:{port}", "kafka": f"Kafka at {bootstrap}"}


def retrier(project: SyncProject, give_up_s: float) -> Retrier:
    """The retry state for one unit of work of this project."""
    return Retrier(Backoff(give_up_s=give_up_s), endpoints(project))


@dataclass
class RangeJob:
    """
    One range to produce: `[start, end)` under the checkpoint `key`.

    :param key: the checkpoint key that records progress (and fences nothing else)
    :param txn_parts: what names the transactional.id (one per unit of work: a retry fences the last try)
    :param value_of: the checkpoint value for a position (`done` at the end of the range)
    :param resume_of: the position a committed checkpoint value says to resume from
    :param server_id: the replica id the reader registers with
    :param batch_size: changes per Kafka transaction (None: the whole range in one)
    :param skip_committed_before_us: skip transactions with an exact OceanBase commit time before this (µs):
        the full sync's snapshot holds them (`engine/handoff.py`)
    """

    start: BinlogPosition
    end: BinlogPosition
    key: str
    txn_parts: tuple[str, ...]
    value_of: Callable[[BinlogPosition, bool], dict[str, Any]]
    resume_of: Callable[[dict[str, Any]], BinlogPosition]
    server_id: int
    batch_size: int | None = None
    skip_committed_before_us: int | None = None


def produce_range(project: SyncProject, job: RangeJob, retry: Retrier, log: Any) -> int:
    """Produce `job`, retrying outages from the last committed batch; the changes committed."""
    committed = [0]
    at: list[BinlogPosition | None] = [job.start]
    retry_call(lambda: _attempt(project, job, committed, at, log), retry, position=lambda: at[0], logger=log)
    return committed[0]


def _kafka_side(project: SyncProject, job: RangeJob) -> tuple[TransactionalSink, dict[str, Any] | None]:
    """The sink of a transactional producer (fencing any earlier try of this unit), then the checkpoint."""
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    txn_id = checkpoints.transactional_id(project.slug, *job.txn_parts)
    config, reports = sink_producer_config()
    sink = TransactionalSink(kafka.producer(txn_id, **config), project.checkpoint_topic, reports)
    # the producer fenced any earlier try of this unit before the checkpoint is read
    return sink, checkpoint_state(project, kafka).get(job.key)


def _read_ahead(items: Iterator[StreamItem], until: Future[Any], limit: int) -> list[StreamItem]:
    """Up to `limit` items read while `until` runs (the Kafka side releases the GIL while it waits)."""
    ahead: list[StreamItem] = []
    while not until.done() and len(ahead) < limit:
        item = next(items, None)
        if item is None:
            break
        ahead.append(item)
    return ahead


def _attempt(project: SyncProject, job: RangeJob, committed: list[int], at: list[Any], log: Any) -> None:
    """
    One try at the range. The Kafka side (fencing, then the checkpoint: 0.05–0.6 s) runs in a thread while
    the source side connects and reads ahead from where this range (or the last try) stands; what was read
    ahead is kept when the checkpoint says to start there, else dropped. Nothing is produced before the fence.
    """
    guess: BinlogPosition = at[0] or job.start
    source = OceanBaseHook(ob_conn_id=project.source.conn_id, session_time_zone="+00:00")
    with ThreadPoolExecutor(1, thread_name_prefix="obkafka-fence") as pool:
        kafka_side = pool.submit(_kafka_side, project, job)
        router = Router(project, source)
        reader = _reader(source, router, job, guess)
        try:
            items = reader.iter_changes()
            ahead = _read_ahead(items, kafka_side, READ_AHEAD) if guess.sort_key() < job.end.sort_key() else []
            sink, record = kafka_side.result()
        except BaseException:
            reader.close()
            raise
    start = job.start
    if record is not None and job.resume_of(record).sort_key() > start.sort_key():
        start = job.resume_of(record)  # resume after what is already committed
    at[0] = start
    if start.sort_key() >= job.end.sort_key():
        reader.close()
        if record is None:  # nothing to read: record where the next range starts
            sink.begin()
            sink.checkpoint(job.key, job.value_of(start, True))
            sink.commit()
        return
    if start.sort_key() != guess.sort_key():  # the read-ahead started elsewhere: read again from the start
        reader.close()
        reader, ahead = _reader(source, router, job, start), []
        items = reader.iter_changes()
    pending = [0]

    def send(change: RowChange) -> int:
        sent = router.send(change, sink)
        pending[0] += sent
        return sent

    def commit(position: BinlogPosition, done: bool) -> None:
        sink.checkpoint(job.key, job.value_of(position, done))
        sink.commit()
        committed[0] += pending[0]
        pending[0] = 0
        at[0] = position
        log.info("%d changes committed up to %s:%s", committed[0], position.file, position.position)

    def on_ddl(item: SchemaChange) -> None:
        log.warning("DDL on %s.%s at %s: %s", item.database, item.table, item.position, item.statement)
        router.forget(item.database, item.table)

    def batch(position: BinlogPosition) -> None:
        commit(position, False)
        sink.begin()

    sink.begin()
    try:
        copy_range(itertools.chain(ahead, items), job.end, send=send, on_batch=batch, on_schema_change=on_ddl,
                   batch_size=job.batch_size, position=lambda: reader.position)  # fmt: skip
        commit(job.end, True)
        if reader.skipped_changes:
            log.info("%d changes skipped: committed before the full sync's snapshot, which holds them",
                     reader.skipped_changes)  # fmt: skip
    except BaseException:
        sink.abort()
        raise
    finally:
        reader.close()


def _reader(source: OceanBaseHook, router: Router, job: RangeJob, start: BinlogPosition) -> BinlogReader:
    return BinlogReader(source.binlog_connection_settings(), job.server_id, start, router.in_scope,
                        describe=source.describe_table, blocking=False,
                        oceanbase_commit_ts=router.db_type is DbType.OB_MYSQL,
                        skip_committed_before_us=job.skip_committed_before_us)  # fmt: skip


def in_scope(project: SyncProject, database: str, table: str) -> bool:
    """The table belongs to the project (a table two patterns claim is left out, as schema sync says)."""
    try:
        return project.match(database, table) is not None
    except ConfigError:
        return False


POLL_EVERY = 10_000  # messages between two polls of the producer


class Router:
    """
    Per table: topic, serialization context and record function; per change: key, value, partition. What
    one change needs is cached per table as a lane (the sink it was made for, the image columns, the record
    function, the topic's direct sender), so the hot path does one lookup.
    """

    def __init__(self, project: SyncProject, source: OceanBaseHook) -> None:
        self.project = project
        self.source = source
        options = project.options
        self.serializer = serializer_for(
            options.serialization, intra_transaction_sequence=options.intra_transaction_sequence
        )
        self.rule = partition_rule(project.options.partitioning)
        dml = {str(kind) for kind in project.incremental.dml}
        self.left_out = tuple(kind for kind in (RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE)
                              if kind.value not in dml)  # fmt: skip
        self.db_type = DbType.OB_MYSQL if source.server_info().is_oceanbase else DbType.MYSQL
        self.tables: dict[tuple[str, str], tuple[str, TableContext, Record]] = {}
        self._lanes: dict[tuple[str, str], tuple[TransactionalSink, tuple[str, ...], Record, Send]] = {}
        self._unpolled = 0

    def in_scope(self, database: str, table: str) -> bool:
        return in_scope(self.project, database, table)

    def forget(self, database: str, table: str) -> None:
        self.tables.pop((database, table), None)
        self._lanes.pop((database, table), None)

    def _route(self, change: RowChange) -> tuple[str, TableContext, Record]:
        """The table's topic, context (built for the change's image columns) and record function."""
        ref = (change.database, change.table)
        found = self.tables.get(ref)
        if found is None or found[1].image_columns != change.columns:
            entry = self.project.match(*ref)
            settings = entry.settings_for(change.table)
            schema = self.source.describe_table(*ref)
            ctx = build_table_context(
                schema, columns=settings.columns, shard_columns=settings.shard_columns,
                image_columns=change.columns, db_type=self.db_type, tenant=self.source.login.tenant,
                business_system_id=self.project.options.business_system_id,
            )  # fmt: skip
            topic = self.project.topic_for(*ref, entry)
            found = self.tables[ref] = (topic, ctx, record_function(self.serializer, ctx))
        return found

    def _lane(self, change: RowChange, sink: TransactionalSink) -> tuple[Any, ...]:
        """The change's table's lane for `sink`: built when the table, its columns or the sink are new."""
        topic, ctx, record = self._route(change)
        lane = (sink, ctx.image_columns, record, sink.sender(topic, self.rule))
        self._lanes[(change.database, change.table)] = lane
        return lane

    def send(self, change: RowChange, sink: TransactionalSink) -> int:
        """Produce one change into `sink`'s open transaction; 0 for a DML type the project leaves out."""
        if self.left_out and change.record_type in self.left_out:
            return 0
        lane = self._lanes.get((change.database, change.table))
        if lane is None or lane[0] is not sink or lane[1] != change.columns:
            lane = self._lane(change, sink)
        lane[3](*lane[2](change))  # sender(*record(change)): one direct produce per message
        self._unpolled += 1
        if self._unpolled >= POLL_EVERY:  # serve delivery reports (only failures are reported)
            self._unpolled = 0
            sink.producer.poll(0)
        return 1
