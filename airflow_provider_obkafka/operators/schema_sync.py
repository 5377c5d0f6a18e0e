"""SchemaSyncOperator: create the project's topics (OMS "Schema Synchronization")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_obkafka.engine.routing.plan import resolve, topic_specs
from airflow_provider_obkafka.exceptions import TopicError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import (
    ensure_checkpoint_topic,
    fail_fast,
    gone_tables_of,
    load_project,
    project_arg,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class SchemaSyncOperator(BaseOperator):
    """
    Creates every new and batch-generated topic of a project with its partitions and replication factor,
    and its compacted checkpoint topic; checks that every existing topic exists. Every problem (a missing
    table or column, a topic name Kafka refuses, a missing or incompatible topic) is reported at once,
    before any topic is created. Idempotent: a re-run finds the topics and changes nothing.

    :param project: the synchronization project (a SyncProject or its JSON form)
    """

    template_fields: Sequence[str] = ()
    ui_color = "#d6eaf8"

    def __init__(self, *, project: SyncProject | Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project = project_arg(project)

    def execute(self, context: Context) -> dict[str, str]:
        """Resolve the tables, check every topic, then create what is missing; returns topic → outcome."""
        project = load_project(self.project)
        source = OceanBaseHook(ob_conn_id=project.source.conn_id)
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        with fail_fast():
            plan = resolve(project, source.list_tables, source.describe_table, gone=gone_tables_of(project, kafka))
            for warning in (*plan.warnings, *plan.gone):
                self.log.warning("%s", warning)
            existing = kafka.describe_topics(sorted(plan.topics()))
            specs, missing = topic_specs(project, plan, existing)
            problems = plan.problems + missing
            if problems:
                raise TopicError(f"schema synchronization of {project.name!r} stopped before writing anything:\n  - "
                                 + "\n  - ".join(problems))
            outcome = kafka.create_topics(specs)
        outcome[project.checkpoint_topic] = ensure_checkpoint_topic(project, kafka)
        for topic, state in sorted(outcome.items()):
            self.log.info("topic %s: %s", topic, state)
        return outcome
