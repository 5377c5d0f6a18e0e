"""
One synchronization project (OMS "Data Synchronization", OceanBase -> Kafka) as a frozen pydantic model.

Its sections and their field rules are in `sections` and `options` (name rules in `naming`); the rules across
fields are in `project_rules.cross_field_findings`, which runs on whatever parts of a project validated, so that
`loader.parse_project` reports all errors of a file together. Every name is importable from here.
"""

from __future__ import annotations

from typing import Annotated

import yaml
from pydantic import Field, ValidationInfo, model_validator

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.field_types import ServerId, SyncTypes, _listed_once
from airflow_provider_obkafka.models.naming import (
    KafkaTopicName,
    ProjectName,
    Tag,
    default_checkpoint_topic,
    default_server_id,
    format_path,
    project_slug,
)
from airflow_provider_obkafka.models.options import Options, TopicDefaults
from airflow_provider_obkafka.models.oversize import OversizeRows, default_dead_letter_topic
from airflow_provider_obkafka.models.project_rules import (
    ProjectParts,
    cross_field_findings,
    mapped_topics,
)
from airflow_provider_obkafka.models.sections import (
    DestinationSpec,
    IncrementalSpec,
    ObjectMapping,
    SourceSpec,
    _Frozen,
)

__all__ = ["SyncProject"]  # fmt: skip


class SyncProject(_Frozen):
    """
    One synchronization project, OceanBase (MySQL mode) to Kafka, as OMS Community Edition defines it.

    :param name: Synchronization Project Name: 1 to 64 letters, digits, Chinese characters, `_` or `-`
    :param description: free text
    :param tags: OMS Tag: 1 to 32 characters each, no repeats
    :param source: OMS Source Node (an `oceanbase` connection)
    :param destination: OMS Destination Node (a `kafka` connection)
    :param sync_types: Synchronization Type: schema, full and/or incremental, and `verify`, kept in that order
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
    def dead_letter_topic(self) -> str:
        """The topic of records naming rows too large for Kafka (`oversize_rows: dead_letter`)."""
        return default_dead_letter_topic(self.name)

    def uses_dead_letter(self) -> bool:
        """Some table's `oversize_rows` is `dead_letter` (its topic is then created with the checkpoint topic)."""
        policies = {self.options.oversize_rows, *(e.oversize_rows for e in self.objects),
                    *(s.oversize_rows for e in self.objects for s in e.table_settings.values())}  # fmt: skip
        return OversizeRows.DEAD_LETTER in policies

    def oversize_rows(self, database: str, table: str, entry: ObjectMapping | None = None) -> OversizeRows:
        """The `oversize_rows` policy of `database.table`: its table_settings', its entry's, or the project's."""
        entry = entry if entry is not None else self.match(database, table)
        own = entry.settings_for(table).oversize_rows if entry is not None else None
        return own or self.options.oversize_rows

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
            for _, topic in mapped_topics(index, entry)
        }

    def to_yaml(self) -> str:
        """The project as YAML, defaults left out; `parse_project` reads it back to an equal project."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
