"""What a project DAG says about its project: the one-line description and the doc_md of the DAG page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_obkafka.models.naming import SyncType
from airflow_provider_obkafka.models.sections import BatchTopics, ExistingTopic

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.project import SyncProject
    from airflow_provider_obkafka.models.sections import ObjectMapping

__all__ = ["dag_description", "dag_doc_md", "invalid_doc_md"]

_TYPE_NAMES = {
    SyncType.SCHEMA: "schema",
    SyncType.FULL: "full",
    SyncType.INCREMENTAL: "incremental",
    SyncType.VERIFY: "verify",
}


def dag_description(project: SyncProject) -> str:
    """One line for the DAG list: source → destination, the sync types, tables and topics."""
    types = " + ".join(_TYPE_NAMES[kind] for kind in project.sync_types)
    topics = len(project.known_topics())
    text = (
        f"OceanBase ({project.source.conn_id}) → Kafka ({project.destination.conn_id}): {types}; "
        f"{len(project.objects)} object mapping(s), {topics} known topic(s)"
    )
    return f"{project.description.strip()} — {text}" if project.description else text


def _topic_text(entry: ObjectMapping) -> str:
    if isinstance(entry.topic, BatchTopics):
        return f"`Topic_{entry.database}_${{table}}` (batch)"
    mode = "existing" if isinstance(entry.topic, ExistingTopic) else "new"
    return f"`{entry.topic.name}` ({mode})"


def _object_rows(project: SyncProject) -> list[str]:
    rows = ["| database | tables | exclude | topic | shard columns | columns |", "|---|---|---|---|---|---|"]
    for entry in project.objects:
        shard = ", ".join(entry.shard_columns or ()) or "primary key"
        columns = ", ".join(entry.columns or ()) or "all"
        if entry.table_settings:
            columns += " (per-table settings: " + ", ".join(sorted(entry.table_settings)) + ")"
        rows.append(
            f"| {entry.database} | {', '.join(entry.tables)} | {', '.join(entry.exclude) or '–'} | "
            f"{_topic_text(entry)} | {shard} | {columns} |"
        )
    return rows


def _schedule_text(project: SyncProject) -> str:
    if SyncType.INCREMENTAL not in project.sync_types:
        return "none: each run is one full synchronization (trigger it when needed)"
    if project.incremental.schedule is None:
        return (
            "continuous: a run follows the change log until it is stopped (mark the run failed or success "
            "to stop it; the next run resumes from the checkpoint)"
        )
    return (
        f"`{project.incremental.schedule}` (UTC): each run carries the changes committed in its data "
        "interval; `airflow backfill create` replays past intervals"
    )


def _full_text(project: SyncProject) -> str:
    if SyncType.FULL not in project.sync_types:
        return "not selected"
    if SyncType.INCREMENTAL not in project.sync_types:
        return "every run (a new snapshot each time)"
    return (
        "in runs before incremental synchronization has a checkpoint (normally the first run), and in any "
        "run triggered with `tables`; later runs skip `full_sync_plan` and `full_sync`"
    )


def _start_text(project: SyncProject) -> str:
    saved = "The DAG was created paused, as OMS's **Save** keeps a project without starting it. "
    if project.incremental.schedule is not None and SyncType.INCREMENTAL in project.sync_types:
        return saved + "**Start**: unpause the DAG; its runs follow the schedule (trigger ▶ for a run now)."
    return saved + "**Start**: trigger the DAG (▶) and unpause it (the trigger form offers both)."


def _start_point_text(project: SyncProject) -> str:
    """Where incremental synchronization starts, as the settings table says it."""
    incremental = project.incremental
    start = (
        incremental.start_timestamp.isoformat() if incremental.start_timestamp else "when the project starts"
    )
    if SyncType.FULL in project.sync_types:
        start = "the full synchronization's snapshot point"
    return start


def _setting_rows(project: SyncProject) -> list[str]:
    """The table of the project's settings, one row per OMS wizard step."""
    options = project.options
    incremental = project.incremental
    start = _start_point_text(project)
    return [
        "| OMS step | setting |",
        "|---|---|",
        f"| Tags | {', '.join(project.tags) or '–'} |",
        f"| Source node | `oceanbase` connection `{project.source.conn_id}` |",
        f"| Destination node | `kafka` connection `{project.destination.conn_id}` |",
        f"| Synchronization types | {', '.join(_TYPE_NAMES[kind] for kind in project.sync_types)} |",
        f"| Full synchronization runs | {_full_text(project)} |",
        f"| Incremental DML | {', '.join(str(kind) for kind in incremental.dml)} |",
        f"| Incremental start | {start} |",
        f"| Schedule | {_schedule_text(project)} |",
        f"| Serialization method | {options.serialization.value} |",
        f"| Intra-transaction sequence | {'on' if options.intra_transaction_sequence else 'off'} |",
        f"| Partitioning rule | {options.partitioning.value} |",
        f"| Business system identification | {options.business_system_id or '–'} |",
        f"| Key change (not OMS) | {options.key_change.value} |",
        f"| Tombstones on delete (not OMS) | {'on' if options.tombstones_on_delete else 'off'} |",
        f"| New topics | {project.topic_defaults.partitions} partitions, replication factor "
        f"{project.topic_defaults.replication_factor} |",
        f"| Checkpoint topic | `{project.checkpoint_topic}` |",
    ]


def dag_doc_md(project: SyncProject, source_path: str | None) -> str:
    """The DAG page's documentation: the project as OMS's wizard shows it, step by step."""
    lines = [
        f"## Synchronization project `{project.name}`",
        "",
        project.description or "",
        "",
        f"Project file: `{source_path}`" if source_path else "Built from a project object (no file).",
        "",
        *_setting_rows(project),
        "",
        "### Objects → topics",
        "",
        *_object_rows(project),
        "",
        _start_text(project),
        "",
    ]
    return "\n".join(lines)


def invalid_doc_md(source_path: str, report: str) -> str:
    """The DAG page of a project file that does not validate: the validation report."""
    return "\n".join(
        [
            "## This project file does not validate",
            "",
            f"File: `{source_path}`. Fix the errors below and save the file; the project's DAG comes back "
            "at the next parse.",
            "",
            "```",
            report,
            "```",
            "",
        ]
    )
