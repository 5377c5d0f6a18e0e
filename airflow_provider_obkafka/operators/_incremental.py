"""
What `IncrementalSyncOperator` needs beside its class: where it starts, the handoff cutoff, run types,
checkpoint errors, and what it reports (the summary lines and metrics of `Reporting`).
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.handoff import handoff_cutoff_us
from airflow_provider_obkafka.engine.binlog.seek import derived_server_id, position_for_timestamp
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.range_job import RangeJob
from airflow_provider_obkafka.engine.pipeline.report import StreamSummary
from airflow_provider_obkafka.engine.pipeline.retry import retry_call
from airflow_provider_obkafka.exceptions import CheckpointError, ConfigError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._io import range_io, retrier
from airflow_provider_obkafka.operators._metrics import ProjectMetrics
from airflow_provider_obkafka.operators._project import checkpoint_state, fail_fast
from airflow_provider_obkafka.triggers.incremental_sync import SETTLE_S

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from datetime import datetime

    from airflow.sdk import BaseOperator, Context

    from airflow_provider_obkafka.engine.pipeline.report import CommittedBatch
    from airflow_provider_obkafka.models.project import SyncProject


def start_position(
    project: SyncProject, state: Mapping[str, Any], requested: datetime | None, log: Any
) -> BinlogPosition:
    """Where incremental sync starts (`IncrementalSyncOperator`): checkpoint, argument, full sync, setting, now."""
    source = OceanBaseHook(ob_conn_id=project.source.conn_id)
    if checkpoints.INCREMENTAL_KEY in state:
        if requested is not None:
            log.warning("start_timestamp %s ignored: the project resumes from its checkpoint %s",
                        requested.isoformat(), state[checkpoints.INCREMENTAL_KEY])  # fmt: skip
        return BinlogPosition(**state[checkpoints.INCREMENTAL_KEY])
    full = state.get(checkpoints.LAST_FULL_SYNC_KEY)
    when = requested
    if when is None and full and full.get("binlog"):
        return BinlogPosition(**full["binlog"])
    when = when or project.incremental.start_timestamp
    if when is None:
        return source.binlog_position()
    log.info("seeking the first transaction committed at or after %s", when.isoformat())
    settings = source.binlog_connection_settings()
    return position_for_timestamp(settings, derived_server_id(project.server_id, "seek"), when)


def backfill_job(
    project: SyncProject, interval: tuple[datetime, datetime], record: Mapping[str, Any] | None, batch_size: int,
    retry_for_s: float, observe: Callable[[CommittedBatch], None], log: Any,
) -> RangeJob:  # fmt: skip
    """
    A backfill interval's range, `[first commit at or after its start, first at or after its end)` (or where its
    `record` says), under its own checkpoint `incremental/backfill/<start>` and replica id.
    """
    label = interval[0].astimezone(UTC).isoformat()
    server_id = derived_server_id(project.server_id, f"backfill/{label}")
    start, end = interval_positions(project, interval, record, server_id, retry_for_s, log)
    log.info("backfill of [%s, %s) reads %s:%s to %s:%s", *interval, start.file, start.position, end.file,
             end.position)  # fmt: skip
    return RangeJob(
        start, end, checkpoints.backfill_key(label), ("backfill", label),
        value_of=lambda position, done: {"position": position.model_dump(mode="json"),
                                         "end": end.model_dump(mode="json"), "done": done},
        resume_of=lambda saved: BinlogPosition(**saved["position"]),
        server_id=server_id, batch_size=batch_size, observe=observe,
    )  # fmt: skip


def handoff_cutoff(state: Mapping[str, Any], start: BinlogPosition) -> int | None:
    """
    The commit time (µs) below which transactions are skipped as already in the full sync's snapshot: the
    checkpoint's, else the last full sync's when incremental sync starts at its binlog position on OceanBase
    (it has an SCN), else None.
    """
    saved = state.get(checkpoints.INCREMENTAL_KEY)
    if saved is not None:
        cutoff: int | None = saved.get("skip_committed_before_us")
        return cutoff
    full = state.get(checkpoints.LAST_FULL_SYNC_KEY) or {}
    binlog, scn = full.get("binlog"), full.get("scn")
    if scn is None or not binlog or BinlogPosition(**binlog).sort_key() != start.sort_key():
        return None
    return handoff_cutoff_us(int(scn))


def is_backfill(context: Context) -> bool:
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type)) == "backfill"


#: Seconds between two looks, from the triggerer, at the backfill's earlier interval.
EARLIER_INTERVAL_POLL_S = 10.0
_ENDED = {"success", "skipped", "failed", "upstream_failed", "removed"}


def after_earlier_interval(operator: BaseOperator, context: Context, method_name: str) -> None:
    """
    A backfill run produces its interval only once the run of the interval before it has ended: Airflow runs
    up to `--max-active-runs` (10 by default) backfill runs side by side, whose changes of a key would then
    reach its partition out of commit order. While that run's task is unfinished, this defers (no worker
    slot) and `method_name` comes back here. Called outside Airflow (no `ti`), it does nothing.

    :raises AirflowFailException: the earlier interval's run is queued behind this one (`--run-backwards`)
    """
    ti = context.get("ti")
    previous = ti.get_previous_ti() if ti is not None and hasattr(ti, "get_previous_ti") else None
    if ti is None or previous is None or not previous.run_id.startswith("backfill__"):
        return
    state = str(getattr(previous.state, "value", previous.state))
    if state in _ENDED:
        if state != "success" and state != "skipped":
            operator.log.warning("the backfill's earlier interval (run %s) ended %s: its changes, once it is run "
                                 "again, reach Kafka after this interval's", previous.run_id, state)  # fmt: skip
        return
    if str(ti.get_dagrun_state(previous.dag_id, previous.run_id)) == "queued":
        raise AirflowFailException(
            f"the backfill's earlier interval (run {previous.run_id}) is queued behind this one: an incremental "
            "project's backfill must produce its intervals oldest first. Create the backfill again without "
            "--run-backwards"
        )
    operator.log.info("waiting for the backfill's earlier interval (run %s, its %s is %s): intervals are produced "
                      "oldest first", previous.run_id, previous.task_id, state)  # fmt: skip
    trigger = TimeDeltaTrigger(timedelta(seconds=EARLIER_INTERVAL_POLL_S))
    operator.defer(trigger=trigger, method_name=method_name)


def record_start(project: SyncProject, start: BinlogPosition, cutoff: int | None, retry_for_s: float, log: Any) -> None:
    """
    Commit where a new incremental synchronization starts as its checkpoint, before its first wait. Found
    from "now" or a time, the start would otherwise be found again by a retry of a try that died before its
    first commit (a killed worker), at a later "now": the changes in between would be lost.
    """
    value = {**start.model_dump(mode="json"), **({} if cutoff is None else {"skip_committed_before_us": cutoff})}

    def commit() -> None:
        sink = range_io(project).sink(checkpoints.transactional_id(project.slug, "incremental"))
        sink.begin()
        sink.checkpoint(checkpoints.INCREMENTAL_KEY, value)
        sink.commit()

    retry_call(commit, retrier(project, retry_for_s), logger=log)


def wait_settled(finish: datetime, log: Any) -> None:
    """Header times are whole seconds: the end must be SETTLE_S in the past before the log can prove it."""
    late = finish.timestamp() + SETTLE_S - time.time()
    if late > 0:
        log.info("the interval ends %.1f s from now: waiting for it", late)
        time.sleep(late)


def interval_positions(
    project: SyncProject, interval: tuple[datetime, datetime], record: Mapping[str, Any] | None, server_id: int,
    retry_for_s: float, log: Any,
) -> tuple[BinlogPosition, BinlogPosition]:  # fmt: skip
    """A backfill interval's start and end positions: from an earlier try's record, else sought in the log."""
    if record is not None:
        return BinlogPosition(**record["position"]), BinlogPosition(**record["end"])
    begin, finish = interval
    wait_settled(finish, log)
    settings = OceanBaseHook(ob_conn_id=project.source.conn_id).binlog_connection_settings()
    retry = retrier(project, retry_for_s)
    start = retry_call(lambda: position_for_timestamp(settings, server_id, begin), retry, logger=log)
    end = retry_call(lambda: position_for_timestamp(settings, server_id, finish), retry, logger=log)
    return start, end


@contextlib.contextmanager
def fail_on_checkpoint(prefix: str = "") -> Iterator[None]:
    """CheckpointError (a time or position the log no longer holds) fails the task without retries, too."""
    try:
        with fail_fast():
            yield
    except CheckpointError as exc:
        raise AirflowFailException(f"{prefix}{exc}") from exc


class Reporting:
    """
    What one incremental task run reports: an INFO summary every `every` seconds and each batch at DEBUG
    (`StreamSummary`), and the project's metrics (`ProjectMetrics`) for every batch, range and caught-up read.

    The lines go through the engine's logger (`logging`), which the task runner sends to the task log with
    Airflow's `[logging] logging_level` (INFO: the summaries only; DEBUG: each transaction too).

    :param slug: the project's slug
    :param every: seconds between two INFO summary lines
    """

    def __init__(self, slug: str, every: float) -> None:
        self.metrics = ProjectMetrics(slug, "incremental")
        self.summary = StreamSummary(f"incremental sync of {slug}", every, [self.metrics.batch])

    def range_done(self, changes: int, started: float) -> None:
        """A range is committed (`started`: its monotonic start time)."""
        self.metrics.range_done(changes, time.monotonic() - started)

    def quiet(self, last_commit_us: int | None) -> None:
        """A read found none of the project's changes: the lag (`last_commit_us`: of the last commit read, any
        table; None when the log was read to its end) and the checkpoint's age."""
        self.metrics.quiet(last_commit_us)


SKIP_PARAM = "incremental_skip_to"
SKIP_RULE = "give a change-log position as file:offset, e.g. mysql-bin.000042:1234 (docs/ddl.md)"


def skip_to_position(project: SyncProject, text: str | None, log: Any) -> BinlogPosition | None:
    """`_skip_to` with its errors failing the task (no retry: the param must be corrected)."""
    with fail_fast():
        return _skip_to(project, text, log)


def _skip_to(project: SyncProject, text: str | None, log: Any) -> BinlogPosition | None:
    """
    The way out of a change that cannot be processed (the `incremental_skip_to` DAG param): move the
    checkpoint `incremental/position` forward to `text` (`file:offset`) and record the skip as
    `incremental/skip/<file>:<offset>` (from, to, when) in the same Kafka transaction, fencing any running
    worker of the project. Again for a skip already recorded: nothing. None when `text` is empty.

    :raises ConfigError: not a position, or one before the checkpoint (a skip never goes back)
    """
    value = (text or "").strip()
    if value in ("", "None"):
        return None
    file, _, offset = value.rpartition(":")
    if not file or not offset.isdigit() or int(offset) < 4:
        raise ConfigError(f"{SKIP_PARAM} {value!r} is not a change-log position: {SKIP_RULE}")
    target = BinlogPosition(file=file, position=int(offset))
    key = f"incremental/skip/{target.file}:{target.position}"
    sink = range_io(project).sink(checkpoints.transactional_id(project.slug, "incremental"))
    state = checkpoint_state(project, KafkaHook(kafka_config_id=project.destination.conn_id))
    current = state.get(checkpoints.INCREMENTAL_KEY)
    if key in state:
        log.info("skip to %s already recorded: nothing to do", value)
        return target
    if current is not None and BinlogPosition(**current).sort_key() > target.sort_key():
        raise ConfigError(f"{SKIP_PARAM} {value!r} is before the checkpoint {current['file']}:{current['position']}: "
                          "a skip only goes forward; give a later position, or leave the param empty")  # fmt: skip
    moved = {k: v for k, v in (current or {}).items() if k not in ("file", "position", "gtid_set", "gtid_flavor")}
    sink.begin()
    sink.checkpoint(checkpoints.INCREMENTAL_KEY, {**moved, **target.model_dump(mode="json")})
    sink.checkpoint(key, {"from": current, "to": target.model_dump(mode="json"), "at": time.time()})
    sink.commit()
    log.warning("incremental sync skipped from %s to %s: the changes between are not synchronized (%s)",
                current, value, key)  # fmt: skip
    return target
