"""
What the factory's DAGs run around their tasks' work (`build.py` attaches them): `full_sync_plan`'s
pre_execute, which skips the full sync once incremental synchronization has a checkpoint
(`skip_when_incremental_started`), and `incremental_sync`'s post_execute, which emits the asset events of the
topics written (`report_topics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowSkipException

from airflow_provider_obkafka.dag_factory.naming import batch_alias, broker_topic_assets, pattern_entries, topics_alias
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


def skip_when_incremental_started(project: Mapping[str, Any], context: Context) -> None:
    """`full_sync_plan`'s pre_execute: skip the full sync once incremental sync has a checkpoint."""
    if context["params"].get("tables"):
        return
    from airflow_provider_obkafka.hooks.kafka import KafkaHook
    from airflow_provider_obkafka.operators._project import checkpoint_state, load_project

    parsed = load_project(project)
    state = checkpoint_state(parsed, KafkaHook(kafka_config_id=parsed.destination.conn_id))
    if checkpoints.INCREMENTAL_KEY in state:
        raise AirflowSkipException(
            f"full synchronization skipped: incremental synchronization of {parsed.name!r} already has a "
            f"checkpoint ({state[checkpoints.INCREMENTAL_KEY]}), so an earlier run completed the full sync. "
            "Trigger the DAG with `tables` to synchronize tables in full again."
        )


def report_topics(project: Mapping[str, Any], context: Context, result: Any = None) -> None:
    """
    `incremental_sync`'s post_execute: asset events in the Kafka provider's broker form for the known topics
    (alias `<dag id>/topics`; their connection-id form comes from the static outlets), and both forms for the
    batch topics of tables matched by patterns (alias `<dag id>/batch_topics`).
    """
    from airflow_provider_obkafka.operators._project import load_project

    parsed = load_project(project)
    conn_id = parsed.destination.conn_id
    for topic in sorted(parsed.known_topics()):
        context["outlet_events"][topics_alias(parsed)].add(broker_topic_assets(conn_id, topic)[0])
    for topic in sorted(_pattern_topics(parsed)):
        for asset in broker_topic_assets(conn_id, topic):
            context["outlet_events"][batch_alias(parsed)].add(asset)


def _pattern_topics(parsed: SyncProject) -> set[str]:
    """The batch topics of the tables that the project's patterns match in the source now."""
    from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook

    entries = pattern_entries(parsed)
    if not entries:
        return set()
    source = OceanBaseHook(ob_conn_id=parsed.source.conn_id)
    topics = set()
    for ref in source.list_tables(sorted({entry.database for entry in entries})):
        try:
            entry = parsed.match(ref.database, ref.table)
            if entry in entries:
                topics.add(entry.topic_for(ref.table))
        except ConfigError:
            continue  # a table two patterns claim, or a name no topic can carry: schema sync reports it
    return topics
