"""
The router of incremental synchronization: per table its topic, serialization context and record function;
per change its Kafka key, value and partition, produced into a sink's open transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.kafka.oversize import OversizeCounts, OversizeGuard, message_limit
from airflow_provider_obkafka.engine.routing.partitioning import partition_rule
from airflow_provider_obkafka.engine.serializers import record_function, serializer_for
from airflow_provider_obkafka.engine.serializers.ddl import DdlEvent, ddl_value
from airflow_provider_obkafka.engine.serializers.key_change import messages_function
from airflow_provider_obkafka.engine.serializers.sequence import StoreSequence
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import KeyChange

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.binlog.transactions import SchemaChange
    from airflow_provider_obkafka.engine.kafka.oversize import MessageLimit
    from airflow_provider_obkafka.engine.kafka.sink import Send, TransactionalSink
    from airflow_provider_obkafka.engine.serializers import Record
    from airflow_provider_obkafka.engine.serializers.key_change import Messages
    from airflow_provider_obkafka.models.project import SyncProject
    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = ["POLL_EVERY", "Router", "fit_to_images", "in_scope"]


def in_scope(project: SyncProject, database: str, table: str) -> bool:
    """The table belongs to the project (a table two patterns claim is left out, as schema sync says)."""
    try:
        return project.match(database, table) is not None
    except ConfigError:
        return False


def fit_to_images(schema: TableSchema, image_columns: tuple[str, ...]) -> TableSchema:
    """
    `schema` narrowed to the columns the change log names for a row (`binlog_row_metadata=FULL`), when the
    definition has them all and more: a row written before an ADD COLUMN the definition already shows.
    """
    names = schema.column_names
    if not image_columns or image_columns == names or not set(image_columns) < set(names):
        return schema
    kept = set(image_columns)
    return schema.model_copy(update={
        "columns": tuple(col for col in schema.columns if col.name in kept),
        "primary_key": schema.primary_key if kept.issuperset(schema.primary_key) else (),
        "unique_keys": tuple(key for key in schema.unique_keys if kept.issuperset(key.columns)),
    })  # fmt: skip


POLL_EVERY = 10_000  # messages between two polls of the producer
# sink, image columns, record function, the topic's sender, messages function (None: one message per change)
_Lane = tuple["TransactionalSink", tuple[str, ...], "Record", "Send", "Messages | None"]


class Router:
    """
    Per table: topic, serialization context and record function; per change: key, value, partition. What
    one change needs is cached per table as a lane (the sink it was made for, the image columns, the record
    function, the topic's direct sender, and the messages function when the project's `key_change` or
    `tombstones_on_delete` asks for more than one message per change), so the hot path does one lookup.
    `sequence` numbers the stream's messages (`storeDataSequence`): `resume` it from the checkpoint.

    :param project: the synchronization project
    :param describe: a table's current schema, by database and table
    :param db_type: the source's type as the formats name it
    :param tenant: the OceanBase tenant, when known
    :param limit_of: a topic's message size limit (`engine/kafka/oversize.py`); None: librdkafka's default
    :param oversize: the task's counts of rows too large for Kafka that were skipped or dead-lettered
    """

    def __init__(
        self, project: SyncProject, describe: Callable[[str, str], TableSchema], db_type: DbType,
        tenant: str | None = None, limit_of: Callable[[str], MessageLimit] | None = None,
        oversize: OversizeCounts | None = None,
    ) -> None:  # fmt: skip
        self.project = project
        self.limit_of = limit_of or (lambda topic: message_limit(None, topic, None))
        self.oversize = oversize if oversize is not None else OversizeCounts()
        self._at: RowChange | None = None  # the change being sent, for the position of one too large
        self.describe = describe
        self.tenant = tenant
        options = project.options
        self.sequence = StoreSequence()
        self.serializer = serializer_for(
            options.serialization, intra_transaction_sequence=options.intra_transaction_sequence,
            sequence=self.sequence.number,
        )  # fmt: skip
        self.delete_then_insert = options.key_change is KeyChange.DELETE_THEN_INSERT
        self.tombstones = options.tombstones_on_delete
        self.rule = partition_rule(project.options.partitioning)
        dml = {str(kind) for kind in project.incremental.dml}
        self.left_out = tuple(kind for kind in (RecordType.INSERT, RecordType.UPDATE, RecordType.DELETE)
                              if kind.value not in dml)  # fmt: skip
        self.db_type = db_type
        self.tables: dict[tuple[str, str], tuple[str, TableContext, Record, Messages | None]] = {}
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._unpolled = 0
        self._partitions: dict[str, int] = {}

    def in_scope(self, database: str, table: str) -> bool:
        return in_scope(self.project, database, table)

    def forget(self, database: str, table: str) -> None:
        self.tables.pop((database, table), None)
        self._lanes.pop((database, table), None)

    def _route(self, change: RowChange) -> tuple[str, TableContext, Record, Messages | None]:
        """The table's topic, context (built for the change's image columns), record, messages functions."""
        ref = (change.database, change.table)
        found = self.tables.get(ref)
        if found is None or found[1].image_columns != change.columns:
            entry = self.project.match(*ref)
            assert entry is not None  # only changes of tables in scope reach the router
            settings = entry.settings_for(change.table)
            schema = fit_to_images(self.describe(*ref), change.columns)
            ctx = build_table_context(
                schema, columns=settings.columns, shard_columns=settings.shard_columns,
                image_columns=change.columns, db_type=self.db_type, tenant=self.tenant,
                business_system_id=self.project.options.business_system_id,
            )  # fmt: skip
            topic = self.project.topic_for(*ref, entry)
            record = record_function(self.serializer, ctx)
            messages = messages_function(
                record, lambda one: self.serializer.key(one, ctx), ctx,
                delete_then_insert=self.delete_then_insert, tombstones=self.tombstones,
            )  # fmt: skip
            found = self.tables[ref] = (topic, ctx, record, messages)
        return found

    def _lane(self, change: RowChange, sink: TransactionalSink) -> tuple[Any, ...]:
        """The change's table's lane for `sink`: built when the table, its columns or the sink are new."""
        topic, ctx, record, messages = self._route(change)
        guard = OversizeGuard(self.project.oversize_rows(change.database, change.table), self.limit_of(topic),
                              f"{change.database}.{change.table}",
                              self._where, self.oversize, (self.project.dead_letter_topic, self.project.name))
        lane = (sink, ctx.image_columns, record, sink.sender(topic, self.rule, guard), messages)
        self._lanes[(change.database, change.table)] = lane
        return lane

    def send(self, change: RowChange, sink: TransactionalSink) -> int:
        """Produce one change into `sink`'s open transaction; 0 for a DML type the project leaves out."""
        if self.left_out and change.record_type in self.left_out:
            return 0
        lane = self._lanes.get((change.database, change.table))
        if lane is None or lane[0] is not sink or lane[1] != change.columns:
            lane = self._lane(change, sink)
        self._at = change
        if lane[4] is None:
            if lane[3](*lane[2](change)) is False:  # sender(*record(change)): one direct produce per message
                return 0  # too large for Kafka: skipped or dead-lettered (`OversizeGuard`)
            self._unpolled += 1
        else:  # the project's key_change / tombstones_on_delete: one or more messages
            messages = lane[4](change)
            for key, value in messages:
                lane[3](key, value)
            self._unpolled += len(messages)
        if self._unpolled >= POLL_EVERY:  # serve delivery reports (only failures are reported)
            self._unpolled = 0
            sink.producer.poll(0)
        return 1

    def _where(self) -> str:
        """The change-log position of the change being sent (its transaction's start)."""
        return f"binlog {self._at.checkpoint if self._at is not None else 'unknown'} (transaction start)"

    def send_ddl(self, change: SchemaChange, sink: TransactionalSink) -> int:
        """
        Produce a DDL into the table's topic (OMS DDL synchronization, `engine/serializers/ddl.py`): with Hash
        partitioning into every partition, so a consumer of any partition sees it before the rows after it
        (the evidence of reference §2.3); with One into partition 0. A rename out of scope gives none (OMS
        synchronizes a RENAME TABLE only when its target is in scope). The messages produced.
        """
        if change.out_of_scope:
            return 0
        database, table = change.database, change.table
        if not self.in_scope(database, table) and change.renamed_to is not None:
            database, table = change.renamed_to
        topic = self.project.topic_for(database, table, self.project.match(database, table))
        position = f"{change.position.file}@{change.position.position}"
        event = DdlEvent(change.database, change.table, change.kind, change.statement, change.commit_ts_us,
                         self.db_type.value, position)  # fmt: skip
        value = ddl_value(self.serializer.name, event)
        if self.rule.fixed_partition is not None:
            targets: Any = (self.rule.fixed_partition,)
        else:
            if topic not in self._partitions:
                metadata = sink.producer.list_topics(topic, timeout=30).topics[topic]
                self._partitions[topic] = len(metadata.partitions)
            targets = range(self._partitions[topic])
        for partition in targets:
            sink.send(topic, value, None, partition)
        return len(targets)

    def schema_changed(
        self, change: SchemaChange, sink: TransactionalSink, create_topic: Callable[[str], None] | None, log: Any
    ) -> None:  # fmt: skip
        """
        A DDL reached in the stream: the tables' lanes rebuilt from the definition after it; the topic of a
        table it brings into scope created (before its first row); with `incremental.ddl` (OMS DDL
        Synchronization), the statement produced in the open transaction.
        """
        self.forget(change.database, change.table)
        if change.renamed_to is not None:
            self.forget(*change.renamed_to)
        topic = self.new_table_topic(change) if create_topic is not None else None
        if topic is not None:
            create_topic(topic)  # type: ignore[misc]
            log.info("a table came into scope at %s: topic %s ready", change.position, topic)
        if self.project.incremental.ddl:
            self.send_ddl(change, sink)

    def new_table_topic(self, change: SchemaChange) -> str | None:
        """The new or batch topic of a table a CREATE or RENAME brings into scope (to create), else None."""
        if change.kind not in ("CREATE", "RENAME") or change.out_of_scope:
            return None
        database, table = change.renamed_to if change.renamed_to is not None else (change.database, change.table)
        entry = self.project.match(database, table) if self.in_scope(database, table) else None
        if entry is None or entry.topic.mode not in ("new", "batch"):
            return None
        return self.project.topic_for(database, table, entry)
