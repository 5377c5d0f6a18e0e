"""What `IncrementalSyncOperator` needs beside its class: the handoff cutoff, run types, checkpoint errors."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.handoff import handoff_cutoff_us
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._project import fail_fast
from airflow_provider_obkafka.triggers.incremental_sync import SETTLE_S

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime

    from airflow.sdk import Context


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


def wait_settled(finish: datetime, log: Any) -> None:
    """Header times are whole seconds: the end must be SETTLE_S in the past before the log can prove it."""
    late = finish.timestamp() + SETTLE_S - time.time()
    if late > 0:
        log.info("the interval ends %.1f s from now: waiting for it", late)
        time.sleep(late)


@contextlib.contextmanager
def fail_on_checkpoint(prefix: str = "") -> Iterator[None]:
    """CheckpointError (a time or position the log no longer holds) fails the task without retries, too."""
    try:
        with fail_fast():
            yield
    except CheckpointError as exc:
        raise AirflowFailException(f"{prefix}{exc}") from exc
