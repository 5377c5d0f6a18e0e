"""
The sections of a synchronization project (source, destination, incremental settings, object mapping, options,
topic defaults) as frozen pydantic models, with their field rules. `project.SyncProject` assembles them.
The annotated field types they share (lists without repeats, enum sets, strict numbers) are in `field_types`.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import Annotated, Any, Literal

import pendulum
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from airflow_provider_obkafka.models.field_types import (
    ColumnList,
    DmlTypes,
    StrictBool,
    StrictInt,
    TableList,
    _between,
    _listed_once,
)
from airflow_provider_obkafka.models.naming import (
    BusinessId,
    ConnId,
    Dml,
    KeyChange,
    KeyChangeName,
    ObjectName,
    Partitioning,
    PartitioningName,
    Serialization,
    SerializationName,
    TopicName,
    batch_topic_name,
    is_pattern,
)
from airflow_provider_obkafka.models.oversize import OversizeRows, OversizeRowsName

START_RULE = (
    "must be an ISO 8601 time with a time zone, such as '2024-05-01T08:00:00+08:00' or "
    "'2024-05-01T00:00:00Z', or Unix epoch seconds such as 1714521600"
)
SKEW = pendulum.duration(seconds=60)
#: 15 minutes: the brokers' default `transaction.max.timeout.ms`, so the default is never refused.
DEFAULT_TRANSACTION_TIMEOUT_MS = 900_000
TRANSACTION_TIMEOUT_RANGE_MS = (1000, 2_147_483_647)  # what librdkafka accepts


def _between_ms(low: int, high: int) -> AfterValidator:
    """`transaction_timeout_ms` within librdkafka's range, with the fix in the message."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be {low} to {high} milliseconds, and at most the brokers' transaction.max."
                             f"timeout.ms (Kafka's default: {DEFAULT_TRANSACTION_TIMEOUT_MS}); leave it out for "
                             f"{DEFAULT_TRANSACTION_TIMEOUT_MS} (15 minutes)")  # fmt: skip
        return value

    return AfterValidator(check)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSpec(_Frozen):
    """
    OMS Source Node: the OceanBase (MySQL mode) tenant.

    :param conn_id: Airflow connection id of type `oceanbase`
    """

    conn_id: ConnId = "oceanbase_default"


class DestinationSpec(_Frozen):
    """
    OMS Destination Node: the Kafka cluster.

    :param conn_id: Airflow connection id of type `kafka`
    """

    conn_id: ConnId = "kafka_default"


class IncrementalSpec(_Frozen):
    """
    OMS Incremental Synchronization settings.

    :param dml: the DML to carry (OMS "DML for Data Change"); INSERT, UPDATE and DELETE by default
    :param start_timestamp: OMS Incremental Synchronization Start Timestamp, only without full
        synchronization: an aware time or Unix epoch seconds, not in the future; stored in UTC. None means
        "when the project starts"
    :param schedule: None to follow the log continuously, or a cron string / preset such as `@hourly`
    :param resume_by: `position` resumes at the checkpoint's binlog file and offset; `gtid` at the first
        transaction after its executed GTID set (where the checkpoint has one), which survives a Binlog
        Service rebuilt with other file names (reference notes §3.3, §6)
    :param ddl: OMS DDL Synchronization (V4.1.1+): each DDL on an in-scope table (TRUNCATE included) is also
        written to the table's topic as a DDL message (docs/ddl.md); off by default, as OMS
    """

    dml: DmlTypes = (Dml.INSERT, Dml.UPDATE, Dml.DELETE)
    ddl: StrictBool = False
    start_timestamp: datetime | None = None
    schedule: str | None = None
    resume_by: Literal["position", "gtid"] = "position"

    @field_validator("start_timestamp", mode="before")
    @classmethod
    def _read_start(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str | datetime):
            raise ValueError(START_RULE)
        if isinstance(value, int):
            if not 0 <= value < 10**11:
                raise ValueError(
                    "is not Unix epoch seconds (1e11 and more look like milliseconds: divide by 1000)"
                )
            return pendulum.from_timestamp(value)
        try:
            start = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
        except ValueError:
            raise ValueError(START_RULE) from None
        if start.utcoffset() is None:
            raise ValueError("has no time zone: add one, such as '+08:00' or 'Z' (2024-05-01T08:00:00+08:00)")
        return start

    @field_validator("start_timestamp")
    @classmethod
    def _not_future(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        now = pendulum.instance((info.context or {}).get("now") or pendulum.now("UTC"))
        start = pendulum.instance(value).in_timezone("UTC")
        if start > now + SKEW:
            raise ValueError(f"is in the future; the start must be now ({now.isoformat()}) or earlier")
        return start

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                "must be a cron string such as '*/10 * * * *' or a preset such as '@hourly'; "
                "leave it out to follow the log continuously"
            )
        return value.strip() if value else value


class NewTopic(_Frozen):
    """
    OMS New Topic: schema synchronization creates the topic.

    :param mode: `new`
    :param name: 3 to 64 ASCII letters, digits, `-`, `_` and `.`
    """

    mode: Literal["new"]
    name: TopicName


class ExistingTopic(_Frozen):
    """
    OMS Select a Topic (Existing Topics): the topic must exist already.

    :param mode: `existing`
    :param name: the topic
    """

    mode: Literal["existing"]
    name: TopicName


class BatchTopics(_Frozen):
    """
    OMS Batch Generate Topics: each table goes to `Topic_${Database Name}_${Table Name}`, made by schema sync.

    :param mode: `batch`
    """

    mode: Literal["batch"]


TopicMapping = Annotated[NewTopic | ExistingTopic | BatchTopics, Field(discriminator="mode")]


class TableSettings(_Frozen):
    """
    OMS "Settings" of a table.

    :param shard_columns: OMS Shard Columns, whose values pick the partition (Hash) and keep order;
        default: the primary key or a non-null unique key
    :param columns: the columns to synchronize; default: all; must include the shard columns
    :param oversize_rows: what to do with a row whose message is larger than Kafka accepts (`fail`, `skip`,
        `dead_letter`); default: `options.oversize_rows`; not an OMS option
    """

    shard_columns: ColumnList | None = None
    columns: ColumnList | None = None
    oversize_rows: OversizeRowsName | None = None


class ObjectMapping(TableSettings):
    """
    One entry of the object mapping: tables of one database and the topic they go to (OMS "Map the Object to
    the Topic"). `shard_columns` and `columns` apply to every table the entry matches.

    :param database: the database (schema) name
    :param tables: table names or glob patterns (`*`, `?`, `[...]`, case-sensitive)
    :param exclude: table names or patterns to leave out
    :param topic: `{mode: new, name: ...}`, `{mode: existing, name: ...}` or `{mode: batch}`
    :param table_settings: per-table `shard_columns`/`columns`/`oversize_rows`, for tables listed by name in `tables`
    """

    database: ObjectName
    tables: TableList
    exclude: Annotated[tuple[ObjectName, ...], _listed_once("exclude pattern")] = ()
    topic: TopicMapping
    table_settings: dict[ObjectName, TableSettings] = Field(default_factory=dict)

    @field_validator("topic", mode="before")
    @classmethod
    def _mode_any_case(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("mode"), str):
            return {**value, "mode": value["mode"].strip().lower()}
        return value

    @property
    def explicit_tables(self) -> tuple[str, ...]:
        """The table names listed as names, not patterns."""
        return tuple(name for name in self.tables if not is_pattern(name))

    def excluded_by(self, table: str) -> str | None:
        """The first `exclude` entry matching `table`, or None."""
        return next((pattern for pattern in self.exclude if fnmatch.fnmatchcase(table, pattern)), None)

    def matches(self, table: str) -> bool:
        """True when `table` (of this entry's database) is in the entry's scope."""
        listed = any(fnmatch.fnmatchcase(table, pattern) for pattern in self.tables)
        return listed and self.excluded_by(table) is None

    def settings_for(self, table: str) -> TableSettings:
        """The effective settings of a table: its `table_settings` over the entry's own."""
        own = self.table_settings.get(table, TableSettings())
        return TableSettings(
            shard_columns=own.shard_columns if own.shard_columns is not None else self.shard_columns,
            columns=own.columns if own.columns is not None else self.columns,
            oversize_rows=own.oversize_rows if own.oversize_rows is not None else self.oversize_rows,
        )

    def topic_for(self, table: str) -> str:
        """The topic of a table this entry matches; batch names may raise ConfigError."""
        if isinstance(self.topic, BatchTopics):
            return batch_topic_name(self.database, table)
        return self.topic.name


class Options(_Frozen):
    """
    OMS Advanced Options.

    :param serialization: Serialization Method (UI or API name, any case)
    :param intra_transaction_sequence: Enable Intra-transaction Sequence (numbers the DML of a transaction)
    :param partitioning: Partitioning Rules, Hash or One
    :param business_system_id: Business System Identification (Optional), 1 to 20 characters
    :param key_change: how incremental sync writes an UPDATE that changes the Kafka key: `update` (one
        UPDATE under the new key, as OMS) or `delete_then_insert` (a DELETE under the old key, then an INSERT
        under the new one, so compacted topics and upsert sinks drop the old row); not an OMS option
    :param tombstones_on_delete: after each DELETE of a keyed row, a tombstone (the same key, a null value),
        as Debezium writes, so compaction removes the key; not an OMS option
    :param transaction_timeout_ms: the producers' `transaction.timeout.ms`: how long one Kafka transaction (a
        chunk, a batch of changes) may stay open before the broker aborts it; at most the brokers'
        `transaction.max.timeout.ms` (the precheck compares them)
    :param chunk_size: rows per full-sync chunk (one mapped `full_sync` task instance each, unless
        `full_sync_work_items` packs them), 1 to 100,000,000
    :param full_sync_work_items: at most this many mapped `full_sync` task instances, each synchronizing its
        consecutive chunks one after another (each chunk its own Kafka transaction), 1 to 100,000; None: one
        per chunk, up to `[core] max_map_length`. Fewer task instances pay fewer task starts (seconds each):
        set it near the executor slots the full sync may use
    :param chunk_max_bytes: full sync: a chunk also holds at most this many bytes of row values (the widest
        row at the snapshot sets a table's rows per chunk), 1,024 to 2^40; None: `chunk_size` rows only
    :param render_on_server: full sync in Default format: let the source write each row's JSON when it gives
        the same bytes (`FullSyncOperator`'s `render_on_server`); false: always render in Python
    :param idle_before_defer_s: continuous incremental sync: seconds without a new change after which the
        worker gives its slot back and waits in the triggerer, 0 to 3600; 0 defers after every range of changes
    :param batch_size: incremental sync: row changes per Kafka transaction (each committed with its
        checkpoint), and how many committed changes wake the trigger, 1 to 1,000,000
    :param retry_for_s: incremental sync: how long an outage of the source or Kafka is waited out (backoff
        up to 30 s between attempts) before the task fails, 0 to 604,800 (a week); 0 fails at the first error
    :param max_changes_per_kafka_transaction: incremental sync: a source transaction with more changes goes
        out in several Kafka transactions of at most this many, each committed with a checkpoint inside the
        source transaction (so it commits within `transaction_timeout_ms` and a crash resumes where it
        stopped); 1 to 100,000,000; not an OMS option
    :param oversize_rows: what to do with a row whose Kafka message is larger than the producer's
        `message.max.bytes` or the topic's `max.message.bytes`: `fail` (the task fails for good, naming the
        row, its size, the limit and the fix), `skip` (the row is left out, with a WARNING) or `dead_letter`
        (a record naming the row goes to the project's dead-letter topic); objects[] entries and their
        `table_settings` override it per table; not an OMS option
    """

    serialization: SerializationName = Serialization.DEFAULT
    intra_transaction_sequence: StrictBool = False
    partitioning: PartitioningName = Partitioning.HASH
    business_system_id: BusinessId | None = None
    key_change: KeyChangeName = KeyChange.UPDATE
    tombstones_on_delete: StrictBool = False
    transaction_timeout_ms: Annotated[StrictInt, _between_ms(*TRANSACTION_TIMEOUT_RANGE_MS)] = (
        DEFAULT_TRANSACTION_TIMEOUT_MS
    )
    chunk_size: Annotated[StrictInt, _between(1, 100_000_000, "chunk_size")] = 100_000
    chunk_max_bytes: Annotated[StrictInt, _between(1024, 2**40, "chunk_max_bytes")] | None = None
    full_sync_work_items: Annotated[StrictInt, _between(1, 100_000, "full_sync_work_items")] | None = None
    render_on_server: StrictBool = True
    idle_before_defer_s: Annotated[StrictInt, _between(0, 3600, "idle_before_defer_s")] = 30
    batch_size: Annotated[StrictInt, _between(1, 1_000_000, "batch_size")] = 10_000
    retry_for_s: Annotated[StrictInt, _between(0, 604_800, "retry_for_s")] = 600
    max_changes_per_kafka_transaction: Annotated[
        StrictInt, _between(1, 100_000_000, "max_changes_per_kafka_transaction")
    ] = 100_000
    oversize_rows: OversizeRowsName = OversizeRows.FAIL


class TopicDefaults(_Frozen):
    """
    Settings of the topics schema synchronization creates (new and batch topics).

    :param partitions: partitions per topic, 1 to 10000 (OMS: 3)
    :param replication_factor: replicas per partition, 1 to 32 (OMS: 1)
    :param configs: topic configs such as `retention.ms`; numbers and booleans are written as strings
    """

    partitions: Annotated[StrictInt, _between(1, 10000, "partitions")] = 3
    replication_factor: Annotated[StrictInt, _between(1, 32, "replication_factor")] = 1
    configs: dict[Annotated[str, Field(min_length=1)], str] = Field(default_factory=dict)

    @field_validator("configs", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {key: _as_text(item) for key, item in value.items()}


def _as_text(value: Any) -> Any:
    """A topic config value as Kafka writes it: `true`/`false` for booleans, digits for numbers."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value
