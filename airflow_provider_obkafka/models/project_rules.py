"""
The rules across the fields of a project. They run on whatever parts of a project validated, so that
`loader.parse_project` reports every error of a file together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import Loc, SyncType, batch_topic_name, is_pattern, is_topic_name
from airflow_provider_obkafka.models.sections import (
    BatchTopics,
    ExistingTopic,
    IncrementalSpec,
    ObjectMapping,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_obkafka.models.sections import TableSettings

__all__ = ["Finding", "ProjectParts", "cross_field_findings", "mapped_topics"]


class Finding(NamedTuple):
    """A rule across fields that a project breaks: where (`loc`), the value there, the rule and its fix."""

    loc: Loc
    value: Any
    message: str


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
    found += _verify_findings(parts)
    if SyncType.SCHEMA not in types:
        found += [
            Finding(
                ("objects", index, "topic", "mode"), entry.topic.mode, _NEEDS_SCHEMA.format(entry.topic.mode)
            )
            for index, entry in parts.objects
            if not isinstance(entry.topic, ExistingTopic)
        ]
    return found


def _verify_findings(parts: ProjectParts) -> list[Finding]:
    """`verify` needs a full sync, or an incremental sync whose runs end (a schedule), to run after."""
    types = parts.sync_types or ()
    if SyncType.VERIFY not in types:
        return []
    names = [str(kind) for kind in types]
    if SyncType.FULL not in types and SyncType.INCREMENTAL not in types:
        return [Finding(("sync_types",), names, _VERIFY_ALONE)]
    schedule = parts.incremental.schedule if parts.incremental else None
    if SyncType.FULL not in types and schedule is None:
        return [Finding(("sync_types",), names, _VERIFY_CONTINUOUS)]
    return []


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
        for loc, topic in mapped_topics(index, entry):
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


def mapped_topics(index: int, entry: ObjectMapping) -> Iterator[tuple[Loc, str]]:
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
_VERIFY_ALONE = (
    "'verify' checks what full or incremental synchronization wrote: add 'full' or 'incremental', or run "
    "`python -m airflow_provider_obkafka verify` on the project that synchronized the tables"
)
_VERIFY_CONTINUOUS = (
    "'verify' runs after the synchronization it checks, and continuous incremental synchronization never ends: "
    "set incremental.schedule, add 'full' (verified after it), or run `python -m airflow_provider_obkafka verify`"
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
