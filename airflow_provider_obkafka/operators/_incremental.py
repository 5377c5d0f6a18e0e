"""What `IncrementalSyncOperator` needs beside its class: the handoff cutoff, run types, checkpoint errors."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.binlog.handoff import handoff_cutoff_us
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import CheckpointError, ConfigError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._io import range_io
from airflow_provider_obkafka.operators._project import checkpoint_state, fail_fast
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


@contextlib.contextmanager
def fail_on_checkpoint(prefix: str = "") -> Iterator[None]:
    """CheckpointError (a time or position the log no longer holds) fails the task without retries, too."""
    try:
        with fail_fast():
            yield
    except CheckpointError as exc:
        raise AirflowFailException(f"{prefix}{exc}") from exc


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
