"""Resolve a project against the source: which physical tables, their schemas, topics and settings.

Every problem is collected and reported at once, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_obkafka.exceptions import ConfigError, SchemaError
from airflow_provider_obkafka.models.naming import is_pattern
from airflow_provider_obkafka.models.schema import TableRef, TableSchema
from airflow_provider_obkafka.models.topic import TopicSpec

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.project import SyncProject
    from airflow_provider_obkafka.models.sections import ObjectMapping, TableSettings

ListTables = Callable[[Sequence[str]], list[TableRef]]
DescribeTable = Callable[[str, str], TableSchema]


class TablePlan(NamedTuple):
    """One physical table to synchronize and where its changes go."""

    schema: TableSchema
    entry_index: int
    topic: str
    topic_mode: str
    settings: TableSettings

    @property
    def ref(self) -> TableRef:
        """The table's database and name."""
        return self.schema.ref

    def columns(self) -> tuple[str, ...]:
        """The columns to synchronize, in table order (all when the project selects none)."""
        chosen = self.settings.columns
        if chosen is None:
            return self.schema.column_names
        wanted = set(chosen)
        return tuple(name for name in self.schema.column_names if name in wanted)


class SyncPlan(NamedTuple):
    """
    The resolved tables of a project and every problem found while resolving them; `gone`: the listed tables
    the change log saw dropped or renamed away (no longer synchronized, the rest runs on).
    """

    tables: list[TablePlan]
    problems: list[str]
    warnings: list[str]
    gone: tuple[str, ...] = ()

    def raise_for_problems(self, project: SyncProject) -> None:
        """Raise one ConfigError listing every problem, when there is any."""
        if self.problems:
            lines = "\n  - ".join(self.problems)
            count = len(self.problems)
            raise ConfigError(f"project {project.name!r} cannot be synchronized ({count} problems):\n  - {lines}")

    def topics(self) -> dict[str, str]:
        """Every topic the tables go to, with its mapping mode."""
        return {plan.topic: plan.topic_mode for plan in self.tables}


def resolve(
    project: SyncProject, list_tables: ListTables, describe: DescribeTable, only: Iterable[str] | None = None,
    gone: Mapping[str, str] | None = None,
) -> SyncPlan:  # fmt: skip
    """
    The physical tables of `project` (or of `only`, a subset given as `db.table`), with schemas, topics
    and settings. Views and missing tables, unknown columns and topic names Kafka refuses are problems; a
    missing table in `gone` (`database.table` -> the position of the DDL that dropped or renamed it, from the
    schema history) is reported in `SyncPlan.gone` instead: OMS stops syncing that table only.
    """
    problems: list[str] = []
    warnings: list[str] = []
    plans: list[TablePlan] = []
    left: list[str] = []
    found = set(list_tables(sorted({entry.database for entry in project.objects})))
    for index, entry in enumerate(project.objects):
        refs = _entry_tables(index, entry, found, describe, problems, gone or {}, left)
        for ref in refs:
            plan = _table_plan(project, index, entry, ref, describe, problems)
            if plan is not None:
                plans.append(plan)
                warnings += _key_warnings(plan.schema)
    if only is not None:
        plans = _subset(plans, set(only), problems)
    return SyncPlan(plans, problems, warnings, tuple(left))


def _entry_tables(
    index: int, entry: ObjectMapping, found: set[TableRef], describe: DescribeTable, problems: list[str],
    gone: Mapping[str, str], left: list[str],
) -> list[TableRef]:  # fmt: skip
    """
    The physical tables one entry matches; a listed name that is missing or not a table is a problem, unless
    the change log saw it dropped or renamed away (`gone`: then it is `left`).
    """
    refs = sorted(ref for ref in found if ref.database == entry.database and entry.matches(ref.table))
    for name in entry.tables:
        if is_pattern(name) or TableRef(entry.database, name) in found or entry.excluded_by(name):
            continue
        where = gone.get(f"{entry.database}.{name}")
        if where is not None:
            left.append(f"table {entry.database}.{name} was dropped or renamed at {where} (change log): it is no "
                        "longer synchronized, the other tables are")  # fmt: skip
            continue
        try:
            describe(entry.database, name)
        except SchemaError as exc:
            problems.append(f"objects[{index}].tables: {exc}")
    patterns = [name for name in entry.tables if is_pattern(name)]
    if patterns and not any(fnmatchcase(ref.table, p) for p in patterns for ref in refs):
        problems.append(
            f"objects[{index}].tables: {patterns!r} match no physical table in database {entry.database!r}: "
            "check the names, or remove the entry"
        )
    return refs


def _table_plan(
    project: SyncProject, index: int, entry: ObjectMapping, ref: TableRef, describe: DescribeTable, problems: list[str]
) -> TablePlan | None:
    """Schema, topic and settings of one table; None (with the problems recorded) when unusable."""
    if project.match(ref.database, ref.table) is not entry:
        return None  # listed by name in another entry, which wins
    try:
        topic = project.topic_for(ref.database, ref.table, entry)
        schema = describe(ref.database, ref.table)
    except (ConfigError, SchemaError) as exc:
        problems.append(f"objects[{index}] {ref}: {exc}")
        return None
    settings = entry.settings_for(ref.table)
    missing = [
        (field, name)
        for field in ("shard_columns", "columns")
        for name in getattr(settings, field) or ()
        if name not in schema.column_names
    ]
    for field, name in missing:
        problems.append(
            f"objects[{index}].{field}: table {ref} has no column {name!r}; its columns are: "
            + ", ".join(schema.column_names)
        )
    if missing:
        return None
    return TablePlan(schema, index, topic, entry.topic.mode, settings)


def _key_warnings(schema: TableSchema) -> list[str]:
    """Tables without a primary key are synchronized, with a warning saying how."""
    if schema.primary_key:
        return []
    if schema.row_key():
        return [
            f"table {schema.ref} has no primary key: it is chunked and keyed by its NOT NULL unique key "
            f"({', '.join(schema.row_key())})"
        ]
    return [
        f"table {schema.ref} has no primary key and no NOT NULL unique key: full sync reads it in one pass, "
        "and its messages carry no key (under Hash they all go to partition 0, in order)"
    ]


def _subset(plans: list[TablePlan], only: set[str], problems: list[str]) -> list[TablePlan]:
    """Keep the tables named in `only` (`db.table`); a name outside the project is a problem."""
    known = {str(plan.ref) for plan in plans}
    for name in sorted(only - known):
        problems.append(f"tables: {name!r} is not a table of this project; its tables are: {', '.join(sorted(known))}")
    return [plan for plan in plans if str(plan.ref) in only]


def topic_specs(project: SyncProject, plan: SyncPlan, existing: Iterable[str]) -> tuple[list[TopicSpec], list[str]]:
    """
    What schema synchronization creates (new and batch-generated topics with the project's partitions,
    replication factor and configs; the checkpoint topic is `checkpoint_topic_spec`'s), and the problems it
    must report first: an `existing` topic that does not exist.
    """
    present = set(existing)
    defaults = project.topic_defaults
    specs = [
        TopicSpec(topic, defaults.partitions, defaults.replication_factor, dict(defaults.configs))
        for topic, mode in sorted(plan.topics().items())
        if mode in ("new", "batch")
    ]
    missing = [
        f"topic {topic!r} is mapped as an existing topic but does not exist in Kafka: create it, or map it as a "
        "new topic with schema synchronization selected"
        for topic, mode in sorted(plan.topics().items())
        if mode == "existing" and topic not in present
    ]
    return specs, missing
