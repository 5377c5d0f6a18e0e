"""
`build_dag(project)`: one synchronization project in, one Airflow DAG out (OMS's project, Airflow's way).

Tasks, for the steps the project selects: `precheck` → `schema_sync` → `full_sync_plan` → `full_sync` (one
mapped task instance per chunk) → `full_sync_report` (one asset event per topic written) →
`incremental_sync`. The DAG is created paused (OMS "Save"); unpausing or triggering it is OMS "Start". What
runs when:

- Without a schedule (`incremental.schedule: null`) incremental synchronization follows the change log
  continuously: the DAG has the `@continuous` timetable, so unpausing it starts a run and, with one active
  run at most, the scheduler starts the next one as soon as a run ends, also after a failed one (it resumes
  from the checkpoint). The incremental task runs with `continuous=True` and ignores the run's data interval
  (a manual run's interval is the zero-length one of its logical date, which would end the run there).
- With a schedule the DAG gets a cron data-interval timetable (UTC, catchup off, one active run), and each run
  carries the changes up to the end of its data interval.
- Full synchronization runs while incremental synchronization has no checkpoint yet (the first run, or
  until a run got past a full sync), and in any run triggered with the `tables` parameter; otherwise
  `full_sync_plan` is skipped, so are `full_sync` and `full_sync_report`, and `incremental_sync` (trigger rule
  `none_failed`) goes on.
  A project without incremental synchronization takes a full snapshot in every run.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param
from airflow.sdk.definitions.timetables.simple import ContinuousTimetable
from airflow.sdk.exceptions import AirflowTimetableInvalid

from airflow_provider_obkafka.dag_factory.callbacks import report_topics, skip_when_incremental_started
from airflow_provider_obkafka.dag_factory.docs import dag_description, dag_doc_md
from airflow_provider_obkafka.dag_factory.naming import (
    batch_alias,
    broker_topic_assets,
    dag_id_for,
    full_sync_alias,
    pattern_entries,
    topic_assets,
    topics_alias,
)
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import SyncType
from airflow_provider_obkafka.operators._project import project_arg

if TYPE_CHECKING:
    from airflow.sdk.bases.operator import BaseOperator

    from airflow_provider_obkafka.models.project import SyncProject

__all__ = ["START_DATE", "TABLE_NAME_PATTERN", "TIMESTAMP_PATTERN", "build_dag", "timetable_for"]

START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")
TABLE_NAME_PATTERN = r"^[^.\s`]+\.[^.\s`]+$"
TIMESTAMP_PATTERN = r"^$|^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$"
DEFAULT_ARGS = {"owner": "obkafka", "retries": 2, "retry_delay": timedelta(minutes=1)}


def build_dag(project: SyncProject, *, source_path: str | None = None) -> DAG:
    """
    The DAG of one synchronization project; pure: no connection or service is reached.

    :param project: the validated project
    :param source_path: the project file, shown on the DAG page
    :raises ConfigError: `incremental.schedule` is not a valid cron expression or preset
    """
    types = project.sync_types
    dag = DAG(
        dag_id=dag_id_for(project.name),
        dag_display_name=project.name,
        description=dag_description(project),
        doc_md=dag_doc_md(project, source_path),
        schedule=timetable_for(project),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=True,
        tags=["obkafka", *project.tags],
        params=_params(project),
        default_args=DEFAULT_ARGS,
    )
    with dag:
        last: Any = _precheck(project)
        if SyncType.SCHEMA in types:
            last = last >> _schema_sync(project)
        if SyncType.FULL in types:
            plan = _full_sync_plan(project, dag)
            last >> plan
            last = _full_sync(project, plan) >> _full_sync_finish(project, plan)  # both read `plan.output`
        full_sync = last if SyncType.FULL in types else None
        if SyncType.INCREMENTAL in types:
            last = last >> _incremental_sync(project)
        if SyncType.VERIFY in types:
            _verify(project, full_sync, last)
    return dag


def timetable_for(project: SyncProject) -> CronDataIntervalTimetable | ContinuousTimetable | None:
    """
    A UTC cron timetable whose runs have [start, end) data intervals; `@continuous` for continuous incremental
    sync (one run at a time, and a new one as soon as one ends, after a failed run too); None for full only.
    """
    if SyncType.INCREMENTAL not in project.sync_types:
        return None
    cron = project.incremental.schedule
    if cron is None:
        return ContinuousTimetable()
    timetable = CronDataIntervalTimetable(cron, timezone="UTC")
    try:
        timetable.validate()
    except AirflowTimetableInvalid as exc:
        raise ConfigError(
            f"incremental.schedule: {cron!r} is not a cron expression Airflow accepts ({exc}); use a cron "
            "string such as '*/10 * * * *' or a preset such as '@hourly', or leave it out to run continuously"
        ) from None
    return timetable


def _params(project: SyncProject) -> dict[str, Param]:
    """The trigger form: tables to fully synchronize, and the incremental start (without full sync only)."""
    params: dict[str, Param] = {}
    if SyncType.FULL in project.sync_types:
        params["tables"] = Param(
            [],
            type="array",
            items={"type": "string", "pattern": TABLE_NAME_PATTERN},
            title="Tables to fully synchronize",
            description=(
                "`database.table` names of the project to synchronize in full in this run. Empty: all of "
                "the project's tables, and only while incremental synchronization has no checkpoint yet."
            ),
        )
    if SyncType.INCREMENTAL in project.sync_types and SyncType.FULL not in project.sync_types:
        params["incremental_start_timestamp"] = Param(
            "",
            type="string",
            pattern=TIMESTAMP_PATTERN,
            title="Incremental synchronization start timestamp",
            description=(
                "ISO 8601 time with a time zone, such as 2024-05-01T08:00:00+08:00, now or earlier, used "
                "when the project has no checkpoint yet. Empty: the project's incremental.start_timestamp, "
                "else now."
            ),
        )
    if SyncType.INCREMENTAL in project.sync_types:
        params["incremental_skip_to"] = Param(
            "",
            type="string",
            pattern=r"^$|^\S+:[0-9]+$",
            title="Incremental synchronization: skip to position",
            description=(
                "Only to get past a change that cannot be processed (the task's error names its position): "
                "file:offset of the change log to move the checkpoint forward to; the changes in between are not "
                "synchronized, and the skip is recorded in the checkpoint topic (docs/ddl.md). Empty: no skip."
            ),
        )
    return params


def _precheck(project: SyncProject) -> BaseOperator:
    from airflow_provider_obkafka.sensors.precheck import PrecheckSensor

    return PrecheckSensor(task_id="precheck", project=project)


def _schema_sync(project: SyncProject) -> BaseOperator:
    from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

    return SchemaSyncOperator(task_id="schema_sync", project=project)


def _full_sync_plan(project: SyncProject, dag: DAG) -> BaseOperator:
    from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator

    gate = None
    if SyncType.INCREMENTAL in project.sync_types:
        gate = functools.partial(skip_when_incremental_started, project_arg(project))
    # A DagParam resolves to the param's value itself (a list) when the templated field is rendered; a Jinja
    # string would render to text, and a native-object DAG would turn text that looks like a number in the
    # chunk work items (key bounds, column names) into numbers.
    return FullSyncPlanOperator(
        task_id="full_sync_plan", project=project, tables=dag.param("tables"), pre_execute=gate,
        chunk_size=project.options.chunk_size, max_work_items=project.options.full_sync_work_items,
    )


def _full_sync(project: SyncProject, plan: BaseOperator) -> Any:
    """The mapped chunks, then the one task that reports the topics they wrote (`full_sync_report`)."""
    from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
    from airflow_provider_obkafka.operators.full_sync_report import FullSyncReportOperator

    chunks = FullSyncOperator.partial(
        task_id="full_sync", project=project, render_on_server=project.options.render_on_server
    ).expand(work=plan.output)
    alias = full_sync_alias(project)
    return FullSyncReportOperator(
        task_id="full_sync_report",
        results=chunks.output,  # after every chunk, through this dependency
        alias=alias.name,
        asset_of=functools.partial(broker_topic_assets, project.destination.conn_id),
        outlets=[alias],
    )


def _full_sync_finish(project: SyncProject, plan: BaseOperator) -> BaseOperator:
    from airflow_provider_obkafka.operators.full_sync_finish import FullSyncFinishOperator

    return FullSyncFinishOperator(task_id="full_sync_finish", project=project, work=plan.output)


def _incremental_sync(project: SyncProject) -> BaseOperator:
    from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator

    outlets: list[Any] = [*topic_assets(project), topics_alias(project)]
    if pattern_entries(project):
        outlets.append(batch_alias(project))
    report = functools.partial(report_topics, project_arg(project))
    extra: dict[str, Any] = {}
    if SyncType.FULL not in project.sync_types:
        extra["start_timestamp"] = "{{ params.incremental_start_timestamp }}"
    extra["skip_to"] = "{{ params.incremental_skip_to }}"
    return IncrementalSyncOperator(
        task_id="incremental_sync",
        project=project,
        outlets=outlets,
        trigger_rule="none_failed",  # runs when the full sync was skipped, not when it failed
        continuous=project.incremental.schedule is None,
        idle_before_defer_s=project.options.idle_before_defer_s,
        defer_hold_s=project.options.defer_hold_s,
        batch_size=project.options.batch_size,
        retry_for_s=project.options.retry_for_s,
        post_execute=report,
        **extra,
    )


def _verify(project: SyncProject, full_sync: Any, last: Any) -> None:
    """
    `verify` after the sync it checks: after incremental sync when its runs end (a schedule), else after the
    full sync (a continuous incremental sync never ends, so its state is verified by the command).
    """
    from airflow_provider_obkafka.operators.verify import VerifyOperator

    scheduled = SyncType.INCREMENTAL in project.sync_types and project.incremental.schedule is not None
    if scheduled:
        mode = "auto" if full_sync is not None else "incremental"
    else:
        mode, last = "full", full_sync
    last >> VerifyOperator(task_id="verify", project=project, mode=mode, trigger_rule="none_failed")
