"""IncrementalSyncOperator: change-log ranges into Kafka, exactly once, waiting in the triggerer."""

from __future__ import annotations

import time
from datetime import UTC
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.copy_range import Pace
from airflow_provider_obkafka.engine.pipeline.incremental import at_or_after, parse_start_timestamp, produce_range
from airflow_provider_obkafka.engine.pipeline.range_job import RangeJob
from airflow_provider_obkafka.engine.pipeline.retry import NoRetry, retry_call, transient
from airflow_provider_obkafka.engine.routing.router import in_scope
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._incremental import (
    Reporting,
    after_earlier_interval,
    backfill_job,
    fail_on_checkpoint,
    handoff_cutoff,
    is_backfill,
    record_start,
    skip_to_position,
    start_position,
)  # fmt: skip
from airflow_provider_obkafka.operators._io import range_io, retrier
from airflow_provider_obkafka.operators._lineage import incremental_lineage
from airflow_provider_obkafka.operators._project import (
    checkpoint_state,
    ensure_checkpoint_topic,
    fail_fast,
    load_project,
    project_arg,
)  # fmt: skip
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class IncrementalSyncOperator(BaseOperator):
    """
    Synchronizes the change log (INSERT, UPDATE, DELETE) into Kafka. It defers to `IncrementalSyncTrigger`,
    which waits in the triggerer (no worker slot) until committed changes are there; on a worker it then reads
    the reported range, produces the changes and commits them with the new checkpoint in Kafka transactions
    (one per `batch_size` changes), and defers again until the run's data interval end. A `continuous` task
    keeps streaming on the worker while changes flow (`_stream`), and defers only once the log has been quiet
    for `idle_before_defer_s` (each deferral costs a trigger start and a worker start, seconds).

    Where it starts, first match wins:

    1. the project's checkpoint (`incremental/position`). A non-empty `start_timestamp` argument is then
       ignored with a warning: a running synchronization never jumps (which would skip or repeat changes);
       to start over, run a backfill for a past interval, or remove the checkpoint record;
    2. the `start_timestamp` argument: the first transaction committed at or after it;
    3. the binlog position recorded by the last full synchronization. On OceanBase the transactions the full
       sync's snapshot already holds (exact commit time below the snapshot's, `engine/binlog/handoff.py`) are
       skipped, from there on: the cutoff travels with the trigger and the checkpoint;
    4. the project's `incremental.start_timestamp`;
    5. the current end of the change log.

    A start time the change log no longer reaches back to fails at once (no retry) and says so.

    A DAG run of type backfill does not follow the log: it re-produces exactly the changes committed in its
    data interval, `[first commit at or after the start, first commit at or after the end)`, in one Kafka
    transaction per `batch_size` changes, under its own checkpoint `incremental/backfill/<interval start>`,
    so a retry of that run resumes without duplicating, and the main checkpoint is untouched. It waits (in
    the triggerer) until the run of the interval before it has ended: intervals are produced oldest first.

    A restart of the source or the broker is waited out (backoff up to 30 s, with jitter, for at most
    `retry_for_s`); a binlog position the server no longer has (purged, MySQL error 1236) fails at once.

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param start_timestamp: ISO 8601 time with a zone to start from when there is no checkpoint (templated;
        "" or None: the project's setting)
    :param batch_size: committed row changes that make the trigger fire; changes per Kafka transaction
    :param max_wait_s: seconds after which the trigger fires with fewer changes, once it has read what the
        log holds (caught up, or at most one `poll_interval_s` more while changes keep coming)
    :param poll_interval_s: seconds between two scans of the change log in the trigger
    :param retry_for_s: how long a source or broker outage is waited out before the task fails
    :param continuous: follow the change log without end, ignoring the run's data interval end (the DAG
        factory sets it for projects without a schedule: a manual run's interval would end at its start)
    :param idle_before_defer_s: continuous only: seconds without a new committed change after which the worker
        defers to the trigger; 0 (the default) defers after every range
    :param summary_every_s: seconds between INFO summary lines while producing (each transaction at DEBUG)
    :param skip_to: `file:offset` to skip forward to first (DAG param `incremental_skip_to`), recorded in the
        checkpoint history (docs/ddl.md)
    :param flush_s: continuous streaming only: a Kafka transaction is committed at the first source
        transaction end once it is this old, and at each idle heartbeat: the commit→visible lag while
        changes flow is about this plus the commit's round trip
    :param defer_hold_s: the trigger fires no sooner than this after the task deferred (`not_before` of
        `IncrementalSyncTrigger`: a resume racing the scheduler's view of the deferral is killed by Airflow)
    """

    template_fields: Sequence[str] = ("start_timestamp", "skip_to")
    ui_color = "#f9e79f"

    def __init__(
        self,
        *,
        project: SyncProject | Mapping[str, Any],
        start_timestamp: str | None = None,
        batch_size: int = 10_000,
        max_wait_s: float = 5.0,
        poll_interval_s: float = 1.0,
        retry_for_s: float = 600.0,
        continuous: bool = False,
        idle_before_defer_s: float = 0.0,
        summary_every_s: float = 60.0,
        skip_to: str | None = None,
        flush_s: float = 0.25,
        defer_hold_s: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project = project_arg(project)
        self.start_timestamp, self.skip_to = start_timestamp, skip_to
        self.batch_size, self.max_wait_s, self.poll_interval_s = batch_size, max_wait_s, poll_interval_s
        self.retry_for_s, self.summary_every_s = retry_for_s, summary_every_s
        self.continuous, self.idle_before_defer_s = continuous, idle_before_defer_s
        self.flush_s, self.defer_hold_s = flush_s, defer_hold_s
        self._reporting: Reporting | None = None

    def execute(self, context: Context) -> dict[str, Any] | None:
        """Find where to start, then wait for changes in the triggerer (or produce a backfill interval)."""
        project = load_project(self.project)
        with fail_fast():
            requested = parse_start_timestamp(self.start_timestamp)
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        self.log.info("checkpoint topic %s: %s", project.checkpoint_topic, ensure_checkpoint_topic(project, kafka))
        if is_backfill(context):  # one interval at a time, oldest first
            after_earlier_interval(self, context, "execute_after_wait")
            return self._backfill(project, context)
        skip_to_position(project, self.skip_to, self.log)
        state = self._checkpoints(project)
        with fail_on_checkpoint():
            retry = retrier(project, self.retry_for_s)
            start = retry_call(lambda: start_position(project, state, requested, self.log), retry,
                               logger=self.log)  # fmt: skip
        cutoff = handoff_cutoff(state, start)
        by_gtid = project.incremental.resume_by == "gtid" and start.gtid_set
        if project.incremental.resume_by == "gtid" and not by_gtid:
            self.log.warning("incremental.resume_by is gtid, but %s:%s has no GTID set (GTID mode off on the "
                             "Binlog Service, or a start found by time): reading by position", start.file,
                             start.position)  # fmt: skip
        self.log.info("incremental sync starts at %s:%s%s%s", start.file, start.position,
                      f", by GTID set after {start.gtid_set}" if by_gtid else "",
                      "" if cutoff is None else f", skipping transactions committed before {cutoff} µs "
                      "(already in the full sync's snapshot)")  # fmt: skip
        if checkpoints.INCREMENTAL_KEY not in state:  # a retry starts here too, not at a later "now"
            record_start(project, start, cutoff, self.retry_for_s, self.log)
        if self.continuous and self.idle_before_defer_s > 0:  # a backlog is streamed, not deferred for
            start = self._stream(project, start, cutoff)
        self._defer(project, start, context, cutoff)
        return None

    def execute_after_wait(self, context: Context, event: Any = None) -> dict[str, Any] | None:
        """Back from waiting for a backfill's earlier interval (`after_earlier_interval`): start again."""
        return self.execute(context)

    def _checkpoints(self, project: SyncProject) -> dict[str, Any]:
        """The project's committed checkpoints, waiting out a broker restart."""
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        with fail_fast():
            return retry_call(lambda: checkpoint_state(project, kafka), retrier(project, self.retry_for_s),
                              logger=self.log)  # fmt: skip

    def stream_end(self, context: Context) -> Any:
        """Where this run stops following the log: its data interval end, or never when `continuous`."""
        return None if self.continuous else context.get("data_interval_end")

    def _defer(self, project: SyncProject, start: BinlogPosition, context: Context, cutoff: int | None) -> None:
        end = self.stream_end(context)
        self.defer(trigger=self._trigger(project, start, end, cutoff), method_name="execute_complete")

    def _trigger(
        self, project: SyncProject, start: BinlogPosition, end: Any, cutoff: int | None
    ) -> IncrementalSyncTrigger:
        """The trigger that waits for changes after `start`."""
        source = OceanBaseHook(ob_conn_id=project.source.conn_id)
        databases = sorted({entry.database for entry in project.objects})
        found = source.list_tables(databases)
        tables = [str(ref) for ref in found if in_scope(project, ref.database, ref.table)]
        return IncrementalSyncTrigger(
            ob_conn_id=project.source.conn_id,
            server_id=project.server_id,
            position=start.model_dump(mode="json"),
            tables=tables,
            batch_size=self.batch_size,
            max_wait_s=self.max_wait_s,
            end_ts=end.isoformat() if end is not None else None,
            poll_interval_s=self.poll_interval_s,
            retry_for_s=self.retry_for_s,
            skip_committed_before_us=cutoff,
            by_gtid=project.incremental.resume_by == "gtid",
            not_before=time.time() + self.defer_hold_s,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Produce the reported range with its checkpoint; stream while changes flow; defer again until the end."""
        if event.get("status") != "ready":
            message = f"incremental sync trigger failed at {event.get('position')}: {event.get('message')}"
            raise (AirflowFailException if event.get("fatal") else AirflowException)(message)
        project = load_project(self.project)
        start, end = BinlogPosition(**event["start"]), BinlogPosition(**event["end"])
        cutoff = event.get("skip_committed_before_us")
        produced = self._produce(project, start, end, cutoff)
        self._report(project).summary.flush()
        if not event.get("reached_end"):
            by_gtid = project.incremental.resume_by == "gtid"
            position = end if at_or_after(end, start, by_gtid) else start
            if self.continuous and self.idle_before_defer_s > 0:
                position = self._stream(project, position, cutoff)
            self._defer(project, position, context, cutoff)
        return {"position": end.model_dump(mode="json"), "changes": produced}

    def _report(self, project: SyncProject) -> Reporting:
        """This task run's summary lines and metrics (`Reporting`), made once."""
        self._reporting = self._reporting or Reporting(project.slug, self.summary_every_s)
        return self._reporting

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (when its provider is installed): the tables in scope in, their topics out."""
        return incremental_lineage(load_project(self.project))

    def _produce(self, project: SyncProject, start: BinlogPosition, end: BinlogPosition, cutoff: int | None) -> int:
        """Produce the changes of [start, end) in transactions with the checkpoint; the changes committed."""
        began, report = time.monotonic(), self._report(project)
        job = self._job(project, start, end, cutoff)
        with fail_on_checkpoint():
            produced = produce_range(project, job, range_io(project), retrier(project, self.retry_for_s), self.log)
        report.range_done(produced, began)
        return produced

    def _job(
        self, project: SyncProject, start: BinlogPosition, end: BinlogPosition | None, cutoff: int | None
    ) -> RangeJob:
        """The range [start, end) (no end: open) under the incremental checkpoint, which keeps the cutoff."""
        kept = {} if cutoff is None else {"skip_committed_before_us": cutoff}  # the checkpoint keeps it
        return RangeJob(
            start, end, checkpoints.INCREMENTAL_KEY, ("incremental",),
            value_of=lambda position, _done: {**position.model_dump(mode="json"), **kept},
            resume_of=lambda record: BinlogPosition(**record),
            server_id=project.server_id, batch_size=self.batch_size, skip_committed_before_us=cutoff,
            by_gtid=project.incremental.resume_by == "gtid", observe=self._report(project).summary.batch,
        )  # fmt: skip

    def _stream(self, project: SyncProject, position: BinlogPosition, cutoff: int | None) -> BinlogPosition:
        """
        Keep producing on this worker while changes come: ONE open range (`RangeJob` without an end) on one
        blocking dump, one transactional producer and one read of the checkpoints, committing at each idle
        heartbeat and once a Kafka transaction is `flush_s` old (or `batch_size` changes); defer from where it
        stopped once none came for `idle_before_defer_s`. A source or broker outage is waited out by the
        trigger, without a worker slot: the stream then defers from its last committed checkpoint.
        """
        report, began, job = self._report(project), time.monotonic(), self._job(project, position, None, cutoff)
        job.pace = Pace(flush_s=self.flush_s, idle_s=self.idle_before_defer_s, on_quiet=report.quiet)
        try:
            with fail_on_checkpoint():
                produced = produce_range(project, job, range_io(project), NoRetry(), self.log)
        except Exception as exc:  # the trigger's backoff waits an outage out, without a worker slot
            if transient(exc) is None:  # and the rest fails the task (an Airflow exception too)
                raise
            self.log.warning("streaming stopped (%s: %s): deferring to the trigger", type(exc).__name__, exc)
            return job.reached or position
        report.range_done(produced, began)
        report.summary.flush(", idle")
        position = job.reached or position  # the last checkpoint committed
        self.log.info("no change for %.0f s: deferring to the trigger at %s:%s", self.idle_before_defer_s,
                      position.file, position.position)  # fmt: skip
        return position

    def _backfill(self, project: SyncProject, context: Context) -> dict[str, Any]:
        """Re-produce exactly the changes of the run's data interval, under the interval's own checkpoint."""
        begin, finish = context["data_interval_start"], context["data_interval_end"]
        assert begin is not None  # a backfill run has a data interval (is_backfill)
        assert finish is not None
        interval = [begin.isoformat(), finish.isoformat()]
        record = self._checkpoints(project).get(checkpoints.backfill_key(begin.astimezone(UTC).isoformat()))
        if record is not None and record.get("done"):
            self.log.info("backfill of [%s, %s) already committed: nothing to do", begin, finish)
            return {"interval": interval, "changes": 0, "already_done": True}
        with fail_on_checkpoint(f"backfill of [{interval[0]}, {interval[1]}): "):
            job = backfill_job(project, (begin, finish), record, self.batch_size, self.retry_for_s,
                               self._report(project).summary.batch, self.log)  # fmt: skip
            produced = produce_range(project, job, range_io(project), retrier(project, self.retry_for_s), self.log)
        self._report(project).summary.flush()
        return {"interval": interval, "changes": produced, "already_done": False}
