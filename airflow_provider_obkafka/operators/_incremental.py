"""
What `IncrementalSyncOperator` needs beside its class: the handoff cutoff, run types, checkpoint errors, and
what it reports (the summary lines and metrics of `Reporting`).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.handoff import handoff_cutoff_us
from airflow_provider_obkafka.engine.binlog.seek import position_for_timestamp
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.engine.pipeline.report import StreamSummary
from airflow_provider_obkafka.engine.pipeline.retry import retry_call
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._io import retrier
from airflow_provider_obkafka.operators._metrics import ProjectMetrics
from airflow_provider_obkafka.operators._project import fail_fast
from airflow_provider_obkafka.triggers.incremental_sync import SETTLE_S

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


def handoff_cutoff(state: Mapping[str, Any], start: BinlogPosition) -> int | None:
    """
    The commit time (µs) below which transactions are skipped as already in the full sync's snapshot: the
    checkpoint's, else the last full sync's when incremental sync starts at its binlog position on OceanBase
    (it has an SCN), else None.
    """
    saved = state.get(checkpoints.INCREMENTAL_KEY)
    if saved is not None:
        return saved.get("skip_committed_before_us")
    full = state.get(checkpoints.LAST_FULL_SYNC_KEY) or {}
    binlog, scn = full.get("binlog"), full.get("scn")
    if scn is None or not binlog or BinlogPosition(**binlog).sort_key() != start.sort_key():
        return None
    return handoff_cutoff_us(int(scn))


def is_backfill(context: Context) -> bool:
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type)) == "backfill"


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
