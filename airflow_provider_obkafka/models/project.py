"""
One synchronization project (OMS "Data Synchronization", OceanBase -> Kafka) as frozen pydantic models.

Field rules are on the models (name rules in `naming`). The rules across fields are in
`cross_field_findings`, which runs on whatever parts of a project validated, so that `loader.parse_project`
reports all errors of a file together.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

import pendulum
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import (
    BusinessId,
    ColumnName,
    ConnId,
    Dml,
    DmlName,
    KafkaTopicName,
    Loc,
    ObjectName,
    Partitioning,
    PartitioningName,
    ProjectName,
    Serialization,
    SerializationName,
    SyncType,
    SyncTypeName,
    Tag,
    TopicName,
    batch_topic_name,
    default_checkpoint_topic,
    default_server_id,
    format_path,
    is_pattern,
    is_topic_name,
    project_slug,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "BatchTopics", "DestinationSpec", "Dml", "ExistingTopic", "Finding", "IncrementalSpec", "NewTopic",
    "ObjectMapping", "Options", "Partitioning", "ProjectParts", "Serialization", "SourceSpec", "SyncProject",
    "SyncType", "TableSettings", "TopicDefaults", "cross_field_findings",
]  # fmt: skip

START_RULE = (
    "must be an ISO 8601 time with a time zone, such as '2024-05-01T08:00:00+08:00' or "
    "'2024-05-01T00:00:00Z', or Unix epoch seconds such as 1714521600"
)
SKEW = pendulum.duration(seconds=60)


class Finding(NamedTuple):
    """A rule across fields that a project breaks: where (`loc`), the value there, the rule and its fix."""

    loc: Loc
    value: Any
    message: str


def _listed_once(what: str, empty: str | None = None, *, repeats: bool = False) -> AfterValidator:
    """A check that a list has no repeated item (unless `repeats`) and, when `empty` is set, is not empty."""

    def check(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items and empty:
            raise ValueError(empty)
        repeated = [] if repeats else sorted({str(item) for item in items if items.count(item) > 1})
        if repeated:
            raise ValueError(
                f"{what} {', '.join(map(repr, repeated))} is listed more than once; list each once"
            )
        return items

    return AfterValidator(check)


def _canonical(order: Sequence[Any], empty: str) -> AfterValidator:
    """A set of enum members: not empty, repeats dropped, in the enum's order."""

    def check(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items:
            raise ValueError(empty)
        return tuple(member for member in order if member in items)

    return AfterValidator(check)


def _between(low: int, high: int, what: str) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{what} must be {low} to {high}")
        return value

    return AfterValidator(check)


StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
ColumnList = Annotated[
    tuple[ColumnName, ...], _listed_once("column", "must not be empty; leave it out to use the default")
]
TableList = Annotated[
    tuple[ObjectName, ...], _listed_once("table", "must list at least one table name or pattern")
]
SyncTypes = Annotated[
    tuple[SyncTypeName, ...],
    _canonical(list(SyncType), "must select at least one of schema, full, incremental"),
]
DmlTypes = Annotated[
    tuple[DmlName, ...], _canonical(list(Dml), "must name at least one of INSERT, UPDATE, DELETE")
]
ServerId = Annotated[StrictInt, _between(1, 2**32 - 1, "a MySQL server_id")]


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
    """

    dml: DmlTypes = (Dml.INSERT, Dml.UPDATE, Dml.DELETE)
    start_timestamp: datetime | None = None
    schedule: str | None = None

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
    """

    shard_columns: ColumnList | None = None
    columns: ColumnList | None = None


class ObjectMapping(TableSettings):
    """
    One entry of the object mapping: tables of one database and the topic they go to (OMS "Map the Object to
    the Topic"). `shard_columns` and `columns` apply to every table the entry matches.

    :param database: the database (schema) name
    :param tables: table names or glob patterns (`*`, `?`, `[...]`, case-sensitive)
    :param exclude: table names or patterns to leave out
    :param topic: `{mode: new, name: ...}`, `{mode: existing, name: ...}` or `{mode: batch}`
    :param table_settings: per-table `shard_columns`/`columns`, for tables listed by name in `tables`
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
    """

    serialization: SerializationName = Serialization.DEFAULT
    intra_transaction_sequence: StrictBool = False
    partitioning: PartitioningName = Partitioning.HASH
    business_system_id: BusinessId | None = None


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


class ProjectParts(NamedTuple):
    """
    The parts of a project that validated, for the rules across fields.

    :param sync_types: the sync types, or None when they did not validate
    :param incremental: the incremental settings, or None when they did not validate
    :param incremental_given: the `incremental` block as written when it sets anything, else None
    :param objects: the object mapping entries that validated, with their indexes
    :param checkpoint_topic: the checkpoint topic the file names, if any
    """

    sync_types: tuple[SyncType, ...] | None
    incremental: IncrementalSpec | None
    incremental_given: Any
    objects: tuple[tuple[int, ObjectMapping], ...]
    checkpoint_topic: str | None


class SyncProject(_Frozen):
    """
    One synchronization project, OceanBase (MySQL mode) to Kafka, as OMS Community Edition defines it.

    :param name: Synchronization Project Name: 1 to 64 letters, digits, Chinese characters, `_` or `-`
    :param description: free text
    :param tags: OMS Tag: 1 to 32 characters each, no repeats
    :param source: OMS Source Node (an `oceanbase` connection)
    :param destination: OMS Destination Node (a `kafka` connection)
    :param sync_types: Synchronization Type: schema, full and/or incremental, kept in that order
    :param incremental: incremental synchronization settings (DML, start timestamp, schedule)
    :param objects: the object mapping: tables to topics
    :param options: OMS Advanced Options
    :param topic_defaults: partitions, replication factor and configs of the topics the project creates
    :param checkpoint_topic: YAML `checkpoint_topic`: the compacted checkpoint topic; default from the name
    :param server_id: YAML `server_id`: MySQL replication server_id; default derived from the name
    """

    name: ProjectName
    description: str | None = None
    tags: Annotated[tuple[Tag, ...], _listed_once("tag")] = ()
    source: SourceSpec = Field(default_factory=SourceSpec)
    destination: DestinationSpec = Field(default_factory=DestinationSpec)
    sync_types: SyncTypes
    incremental: IncrementalSpec = Field(default_factory=IncrementalSpec)
    objects: Annotated[
        tuple[ObjectMapping, ...], _listed_once("entry", "must list at least one entry", repeats=True)
    ]
    options: Options = Field(default_factory=Options)
    topic_defaults: TopicDefaults = Field(default_factory=TopicDefaults)
    checkpoint_topic_override: KafkaTopicName | None = Field(default=None, alias="checkpoint_topic")
    server_id_override: ServerId | None = Field(default=None, alias="server_id")

    @model_validator(mode="after")
    def _across_fields(self, info: ValidationInfo) -> SyncProject:
        if (info.context or {}).get("cross_checks", True):
            findings = cross_field_findings(self.parts())
            if findings:
                lines = "".join(
                    f"\n  - {format_path(loc)}: {value!r} — {rule}" for loc, value, rule in findings
                )
                raise ConfigError(
                    f"project {self.name!r} breaks {len(findings)} rule(s) across fields:{lines}"
                )
        return self

    @property
    def checkpoint_topic(self) -> str:
        """The compacted topic holding the project's checkpoints."""
        return self.checkpoint_topic_override or default_checkpoint_topic(self.name)

    @property
    def server_id(self) -> int:
        """The MySQL replication server_id of the incremental reader; stable across restarts."""
        return self.server_id_override or default_server_id(self.name)

    @property
    def slug(self) -> str:
        """The project name in ASCII, safe in topic names and DAG ids."""
        return project_slug(self.name)

    def parts(self) -> ProjectParts:
        """This project's parts, for `cross_field_findings`."""
        given = self.incremental.model_dump(mode="json", exclude_unset=True) or None
        return ProjectParts(
            self.sync_types,
            self.incremental,
            given,
            tuple(enumerate(self.objects)),
            self.checkpoint_topic_override,
        )

    def match(self, database: str, table: str) -> ObjectMapping | None:
        """The entry `database.table` belongs to; a table listed by name wins over other entries' patterns."""
        found = [(index, entry) for index, entry in enumerate(self.objects) if entry.database == database]
        found = [(index, entry) for index, entry in found if entry.matches(table)]
        listed = [entry for _, entry in found if table in entry.explicit_tables]
        if listed:
            return listed[0]
        if len(found) > 1:
            entries = ", ".join(f"objects[{index}]" for index, _ in found)
            raise ConfigError(
                f"table {database}.{table} matches the patterns of {entries} of project {self.name!r}; "
                "a table maps to one topic: list it by name in one entry, or exclude it from the others"
            )
        return found[0][1] if found else None

    def topic_for(self, database: str, table: str, entry: ObjectMapping | None = None) -> str:
        """The topic of `database.table`, from `entry` (the entry it matched) or from `match`."""
        entry = entry if entry is not None else self.match(database, table)
        if entry is None or entry.database != database or not entry.matches(table):
            raise ConfigError(f"table {database}.{table} is not in the scope of project {self.name!r}")
        return entry.topic_for(table)

    def known_topics(self) -> dict[str, str]:
        """The topics known before reading the source, with their mode (`new`, `existing`, `batch`)."""
        return {
            topic: entry.topic.mode
            for index, entry in enumerate(self.objects)
            for _, topic in _mapped_topics(index, entry)
        }

    def to_yaml(self) -> str:
        """The project as YAML, defaults left out; `parse_project` reads it back to an equal project."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def cross_field_findings(parts: ProjectParts) -> list[Finding]:
    """Every rule across fields that the validated parts of a project break."""
    findings = _sync_type_findings(parts)
    for index, entry in parts.objects:
        findings += _table_findings(index, entry) + _shard_findings(("objects", index), entry)
    return findings + _overlap_findings(parts.objects) + _topic_findings(parts)


def _sync_type_findings(parts: ProjectParts) -> list[Finding]:
    types = parts.sync_types
    if types is None:
        return []
    found = []
    if parts.incremental_given is not None and SyncType.INCREMENTAL not in types:
        found.append(Finding(("incremental",), parts.incremental_given, _NOT_INCREMENTAL))
    start = parts.incremental.start_timestamp if parts.incremental else None
    if start is not None and SyncType.FULL in types:
        found.append(Finding(("incremental", "start_timestamp"), start.isoformat(), _START_WITH_FULL))
    if SyncType.SCHEMA not in types:
        found += [
            Finding(
                ("objects", index, "topic", "mode"), entry.topic.mode, _NEEDS_SCHEMA.format(entry.topic.mode)
            )
            for index, entry in parts.objects
            if not isinstance(entry.topic, ExistingTopic)
        ]
    return found


def _table_findings(index: int, entry: ObjectMapping) -> list[Finding]:
    listed = ", ".join(entry.explicit_tables) or "none"
    found = [
        Finding(("objects", index, "table_settings", table), table, _NOT_LISTED.format(listed))
        for table in entry.table_settings
        if table not in entry.explicit_tables
    ]
    for position, table in enumerate(entry.tables):
        loc = ("objects", index, "tables", position)
        pattern = None if is_pattern(table) else entry.excluded_by(table)
        if pattern:
            found.append(
                Finding(loc, table, f"is listed in tables but excluded by {pattern!r}: remove one of them")
            )
        if isinstance(entry.topic, BatchTopics) and not is_pattern(table):
            try:
                batch_topic_name(entry.database, table)
            except ConfigError as exc:
                found.append(Finding(loc, table, str(exc)))
    return found


def _shard_findings(at: Loc, entry: ObjectMapping) -> list[Finding]:
    found = [_shard_finding((*at, "shard_columns"), entry)]
    for table, own in entry.table_settings.items():
        if own.shard_columns is not None or own.columns is not None:
            key = "shard_columns" if own.shard_columns is not None else "columns"
            found.append(_shard_finding((*at, "table_settings", table, key), entry.settings_for(table)))
    return [finding for finding in found if finding is not None]


def _shard_finding(loc: Loc, settings: TableSettings) -> Finding | None:
    if not settings.shard_columns or settings.columns is None:
        return None
    missing = [column for column in settings.shard_columns if column not in settings.columns]
    if not missing:
        return None
    value = settings.shard_columns if loc[-1] == "shard_columns" else settings.columns
    return Finding(
        loc,
        list(value),
        f"shard column(s) {', '.join(missing)} not among columns ({', '.join(settings.columns)}): "
        "a shard column must be synchronized, so add it to columns",
    )


def _overlap_findings(objects: Sequence[tuple[int, ObjectMapping]]) -> list[Finding]:
    owners: dict[tuple[str, str], int] = {}
    found = []
    for index, entry in objects:
        for table in entry.explicit_tables:
            owner = owners.setdefault((entry.database, table), index)
            if owner != index:
                loc = ("objects", index, "tables", entry.tables.index(table))
                found.append(Finding(loc, table, _MAPPED_TWICE.format(f"{entry.database}.{table}", owner)))
    return found


def _topic_findings(parts: ProjectParts) -> list[Finding]:
    kinds: dict[str, tuple[str, int]] = {}
    found = []
    for index, entry in parts.objects:
        kind = "existing" if isinstance(entry.topic, ExistingTopic) else "created"
        for loc, topic in _mapped_topics(index, entry):
            other_kind, other = kinds.setdefault(topic, (kind, index))
            if other_kind != kind:
                message = _MODE_CLASH.format(topic, _KINDS[kind], _KINDS[other_kind], other)
                found.append(Finding(loc, topic, message))
            if topic == parts.checkpoint_topic:
                message = (
                    f"is also the topic of objects[{index}]: the checkpoint topic must be the project's own"
                )
                found.append(Finding(("checkpoint_topic",), topic, message))
    return found


def _mapped_topics(index: int, entry: ObjectMapping) -> Iterator[tuple[Loc, str]]:
    """The topics an entry names, or for batch mode generates from its listed tables (valid names only)."""
    if not isinstance(entry.topic, BatchTopics):
        yield ("objects", index, "topic", "name"), entry.topic.name
        return
    for position, table in enumerate(entry.tables):
        if not is_pattern(table) and is_topic_name(f"Topic_{entry.database}_{table}"):
            yield ("objects", index, "tables", position), batch_topic_name(entry.database, table)


_NOT_INCREMENTAL = (
    "incremental settings are given but 'incremental' is not in sync_types: add it there, "
    "or remove these settings"
)
_START_WITH_FULL = (
    "a start timestamp is allowed only without full synchronization: with 'full' in sync_types, "
    "incremental synchronization starts at the full synchronization's snapshot point; "
    "remove start_timestamp, or remove 'full'"
)
_NEEDS_SCHEMA = (
    "mode {0!r} creates topics, which only schema synchronization does (OMS offers New Topic and "
    "Batch Generate Topics only with Schema Synchronization): add 'schema' to sync_types, "
    "or use mode: existing"
)
_NOT_LISTED = (
    "per-table settings need the table listed by name (not only matched by a pattern) in this entry's tables "
    "(listed by name: {0}); add it to tables"
)
_MAPPED_TWICE = (
    "table {0} is already mapped by objects[{1}]; a table maps to one topic: remove it from one entry "
    "(to put tables of several entries into one topic, give the entries the same topic)"
)
_MODE_CLASH = (
    "topic {0!r} is {1} here but {2} in objects[{3}]: a topic is either created by the project or exists "
    "already, so map it with the same kind of mode in every entry"
)
_KINDS = {
    "created": "created by the project (mode new or batch)",
    "existing": "an existing topic (mode existing)",
}
