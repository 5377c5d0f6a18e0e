"""IncrementalSyncOperator: change-log ranges into Kafka, exactly once, waiting in the triggerer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_obkafka.engine import checkpoints
from airflow_provider_obkafka.engine.binlog_events import Commit, SchemaChange
from airflow_provider_obkafka.engine.binlog_reader import BinlogReader
from airflow_provider_obkafka.engine.change import DbType, RowChange, TableContext, build_table_context
from airflow_provider_obkafka.engine.partitioning import partition_rule
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.sink import SINK_PRODUCER_CONFIG, TransactionalSink
from airflow_provider_obkafka.exceptions import CapabilityError, CheckpointError, ConfigError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._project import checkpoint_state, fail_fast, load_project, project_arg
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class IncrementalSyncOperator(BaseOperator):
    """
    Synchronizes the change log (INSERT, UPDATE, DELETE) into Kafka. It defers to `IncrementalSyncTrigger`,
    which waits in the triggerer (no worker slot) until committed changes are there; on a worker it then reads
    the reported range, produces the changes and commits them with the new checkpoint in one Kafka
    transaction, and defers again until the run's data interval end.

    Start: the project's checkpoint; else the binlog position recorded by the last full synchronization;
    else the current position (an explicit past start timestamp is not supported yet: it fails clearly).

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param batch_size: committed row changes that make the trigger fire
    :param max_wait_s: seconds after which the trigger fires with fewer changes
    :param poll_interval_s: seconds between two scans of the change log in the trigger
    """

    template_fields: Sequence[str] = ()
    ui_color = "#f9e79f"

    def __init__(
        self,
        *,
        project: SyncProject | Mapping[str, Any],
        batch_size: int = 10_000,
        max_wait_s: float = 5.0,
        poll_interval_s: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project = project_arg(project)
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.poll_interval_s = poll_interval_s

    def execute(self, context: Context) -> None:
        """Find where to start, then wait for changes in the triggerer."""
        project = load_project(self.project)
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        state = checkpoint_state(project, kafka)
        with fail_fast():
            start = _start_position(project, OceanBaseHook(ob_conn_id=project.source.conn_id), state)
        self.log.info("incremental sync starts at %s:%s", start.file, start.position)
        self._defer(project, start, context)

    def _defer(self, project: SyncProject, start: BinlogPosition, context: Context) -> None:
        end = context.get("data_interval_end")
        source = OceanBaseHook(ob_conn_id=project.source.conn_id)
        databases = sorted({entry.database for entry in project.objects})
        tables = [str(ref) for ref in source.list_tables(databases) if _in_scope(project, ref.database, ref.table)]
        trigger = IncrementalSyncTrigger(
            ob_conn_id=project.source.conn_id,
            server_id=project.server_id,
            position=start.model_dump(mode="json"),
            tables=tables,
            batch_size=self.batch_size,
            max_wait_s=self.max_wait_s,
            end_ts=end.isoformat() if end is not None else None,
            poll_interval_s=self.poll_interval_s,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Produce the reported range with its checkpoint in one transaction; defer again until the end."""
        if event.get("status") != "ready":
            raise AirflowException(f"incremental sync trigger failed at {event.get('position')}: {event.get('message')}")
        project = load_project(self.project)
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        producer = kafka.producer(
            transactional_id=checkpoints.transactional_id(project.slug, "incremental"), **SINK_PRODUCER_CONFIG
        )  # fences an earlier worker of this project before the checkpoint is read
        committed = checkpoint_state(project, kafka).get(checkpoints.INCREMENTAL_KEY)
        start, end = BinlogPosition(**event["start"]), BinlogPosition(**event["end"])
        if committed is not None and BinlogPosition(**committed).sort_key() > start.sort_key():
            start = BinlogPosition(**committed)  # a repeated event: resume after what is already committed
        produced = 0
        if start.sort_key() < end.sort_key():
            produced = _produce_range(project, producer, start, end, self.log)
        elif committed is None:
            _commit_checkpoint(project, producer, start)  # the first run: where the next one starts
        if not event.get("reached_end"):
            self._defer(project, max(start, end, key=BinlogPosition.sort_key), context)
        return {"position": end.model_dump(mode="json"), "changes": produced}


def _start_position(project: SyncProject, source: OceanBaseHook, state: dict[str, dict[str, Any]]) -> BinlogPosition:
    """The checkpoint, else the last full sync's binlog position, else now."""
    if checkpoints.INCREMENTAL_KEY in state:
        return BinlogPosition(**state[checkpoints.INCREMENTAL_KEY])
    full = state.get(checkpoints.LAST_FULL_SYNC_KEY)
    if full and full.get("binlog"):
        return BinlogPosition(**full["binlog"])
    if project.incremental.start_timestamp is not None:
        raise CapabilityError(
            f"incremental.start_timestamp {project.incremental.start_timestamp.isoformat()}: starting from a past "
            "time is not supported yet; remove it to start from now"
        )
    return source.binlog_position()


def _produce_range(project: SyncProject, producer: Any, start: BinlogPosition, end: BinlogPosition, log: Any) -> int:
    """Read [start, end) from the change log and produce it, with the checkpoint `end`, in one transaction."""
    source = OceanBaseHook(ob_conn_id=project.source.conn_id, session_time_zone="+00:00")
    router = _Router(project, source)
    sink = TransactionalSink(producer, project.checkpoint_topic)
    reader = BinlogReader(source.binlog_connection_settings(), project.server_id, start, router.in_scope,
                          describe=source.describe_table, blocking=False)  # fmt: skip
    sink.begin()
    try:
        produced = _copy(reader, router, sink, end, log)
        sink.checkpoint(checkpoints.INCREMENTAL_KEY, end.model_dump(mode="json"))
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    finally:
        reader.close()
    log.info("%d changes committed up to %s:%s", produced, end.file, end.position)
    return produced


def _commit_checkpoint(project: SyncProject, producer: Any, position: BinlogPosition) -> None:
    """Record the incremental checkpoint alone (no change in between)."""
    sink = TransactionalSink(producer, project.checkpoint_topic)
    sink.begin()
    sink.checkpoint(checkpoints.INCREMENTAL_KEY, position.model_dump(mode="json"))
    sink.commit()


def _copy(reader: BinlogReader, router: _Router, sink: TransactionalSink, end: BinlogPosition, log: Any) -> int:
    produced = 0
    for item in reader.iter_changes():
        if isinstance(item, RowChange):
            produced += router.send(item, sink)
        elif isinstance(item, SchemaChange):
            log.warning("DDL on %s.%s at %s: %s", item.database, item.table, item.position, item.statement)
            router.forget(item.database, item.table)
        elif isinstance(item, Commit) and item.end.sort_key() >= end.sort_key():
            if item.end.sort_key() != end.sort_key():
                raise CheckpointError(f"the change log passed {end} without a commit there (reached {item.end})")
            return produced
    raise CheckpointError(f"the change log ended before the reported position {end.file}:{end.position}")


def _in_scope(project: SyncProject, database: str, table: str) -> bool:
    """The table belongs to the project (a table two patterns claim is left out, as schema sync reports it)."""
    try:
        return project.match(database, table) is not None
    except ConfigError:
        return False


class _Router:
    """Per table: topic, serialization context; per change: key, value, partition."""

    def __init__(self, project: SyncProject, source: OceanBaseHook) -> None:
        self.project = project
        self.source = source
        self.serializer = serializer_for(
            project.options.serialization, intra_transaction_sequence=project.options.intra_transaction_sequence
        )
        self.rule = partition_rule(project.options.partitioning)
        self.dml = {str(kind) for kind in project.incremental.dml}
        self.db_type = DbType.OB_MYSQL if source.server_info().is_oceanbase else DbType.MYSQL
        self.tables: dict[tuple[str, str], tuple[str, TableContext] | None] = {}

    def in_scope(self, database: str, table: str) -> bool:
        return _in_scope(self.project, database, table)

    def forget(self, database: str, table: str) -> None:
        self.tables.pop((database, table), None)

    def _route(self, change: RowChange) -> tuple[str, TableContext]:
        ref = (change.database, change.table)
        found = self.tables.get(ref)
        if found is None or found[1].image_columns != change.columns:
            entry = self.project.match(*ref)
            settings = entry.settings_for(change.table)
            schema = self.source.describe_table(*ref)
            ctx = build_table_context(
                schema, columns=settings.columns, shard_columns=settings.shard_columns, image_columns=change.columns,
                db_type=self.db_type, tenant=self.source.login.tenant,
                business_system_id=self.project.options.business_system_id,
            )  # fmt: skip
            found = self.tables[ref] = (self.project.topic_for(*ref, entry), ctx)
        return found

    def send(self, change: RowChange, sink: TransactionalSink) -> int:
        if change.record_type.value not in self.dml:
            return 0
        topic, ctx = self._route(change)
        key = self.serializer.key(change, ctx)
        sink.send(topic, self.serializer.value(change, ctx), key, self.rule.partition_for(key))
        return 1
