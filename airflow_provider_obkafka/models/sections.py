"""
The sections of a synchronization project (source, destination, incremental settings, object mapping) as frozen
pydantic models, with their field rules; the options and topic defaults are in `options`. `project.SyncProject`
assembles them. The annotated field types they share (lists without repeats, enum sets, strict numbers) are in
`field_types`.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import Annotated, Any, Literal

import pendulum
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from airflow_provider_obkafka.models.field_types import (
    ColumnList,
    DmlTypes,
    StrictBool,
    TableList,
    _listed_once,
)
from airflow_provider_obkafka.models.naming import (
    ConnId,
    Dml,
    ObjectName,
    TopicName,
    batch_topic_name,
    is_pattern,
)
from airflow_provider_obkafka.models.oversize import OversizeRowsName

START_RULE = (
    "must be an ISO 8601 time with a time zone, such as '2024-05-01T08:00:00+08:00' or "
    "'2024-05-01T00:00:00Z', or Unix epoch seconds such as 1714521600"
)
SKEW = pendulum.duration(seconds=60)


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
