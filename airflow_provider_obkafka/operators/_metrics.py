"""
The provider's metrics, through Airflow's `Stats` (StatsD, Datadog or OpenTelemetry, as `[metrics]` says; with
metrics off, nothing is sent and nothing fails). docs/deploy.md lists them and which to alert on.

Every name carries the project's slug (plain StatsD has no tags), and the tags `project` (and `table` for a
full-sync chunk) are given too, for the backends that keep tags. With `statsd_prefix = airflow`:

- `airflow.obkafka.incremental.lag_s.<project>` (gauge): seconds between the source commit of the last change
  committed to Kafka and that Kafka commit; while none of the project's changes come, the age of the last
  commit read (0 when the log is read to its end)
- `airflow.obkafka.incremental.checkpoint_age_s.<project>` (gauge): seconds since the project's checkpoint
  was last committed by the running task (0 at each commit; it grows while the log is quiet)
- `airflow.obkafka.incremental.rows.<project>` (counter), `…incremental.rows_per_s.<project>` (gauge)
- `airflow.obkafka.incremental.cycle_time.<project>` (timer, ms): one change-log range, trigger event to commit
- `airflow.obkafka.full.rows.<project>` (counter), `…full.rows_per_s.<project>` (gauge, one chunk's rate),
  `…full.chunk_time.<project>` (timer, ms: one chunk, fencing to commit)

Where `Stats` is set up: the task runner's `main()` calls `Stats.initialize` from `[metrics]`, and so does
importing the task SDK's `serde` (which every task run imports, `dag.test()` included): a process started
with `statsd_on` sends, one started without does not. The triggerer sets up the core's own `Stats`, not the
SDK's: these metrics are sent by the worker, where the changes are produced.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.pipeline.report import lag_seconds

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.pipeline.report import CommittedBatch

__all__ = ["ProjectMetrics", "metric_name"]

log = logging.getLogger(__name__)
PREFIX = "obkafka"


def metric_name(stage: str, metric: str, slug: str) -> str:
    """`obkafka.<stage>.<metric>.<project slug>`, within StatsD's name rules (dots kept as separators)."""
    return f"{PREFIX}.{stage}.{metric}.{slug.replace('.', '_')}"


def _stats() -> Any:
    """Airflow's Stats, the task SDK's (set up from `[metrics]` when the SDK is imported, see the module doc)."""
    from airflow.sdk.observability.stats import Stats

    return Stats


class ProjectMetrics:
    """
    The metrics of one project's task. A metric that cannot be sent is logged once, never raised: metrics
    never fail a synchronization.

    :param slug: the project's slug (`SyncProject.slug`)
    :param stage: `full` or `incremental`
    """

    def __init__(self, slug: str, stage: str) -> None:
        self.slug = slug
        self.stage = stage
        self.tags = {"project": slug}
        self.checkpoint_at: float | None = None
        self._failed = False
        try:
            self.stats: Any = _stats()
        except Exception as exc:  # an Airflow without the task SDK's Stats, a bad [metrics] setting
            log.warning("metrics are off for this task: Airflow's Stats could not be set up (%s)", exc)
            self.stats = None

    def _send(self, kind: str, metric: str, value: Any, **tags: str) -> None:
        if self.stats is None:
            return
        try:
            getattr(self.stats, kind)(metric_name(self.stage, metric, self.slug), value, tags={**self.tags, **tags})
        except Exception as exc:
            if not self._failed:
                log.warning("metric %s not sent: %s", metric, exc)
            self._failed = True

    def chunk(self, table: str, rows: int, seconds: float) -> None:
        """A full-sync chunk committed: rows, its rows per second, its time."""
        self._send("incr", "rows", rows, table=table)
        self._send("gauge", "rows_per_s", rows / max(seconds, 1e-6), table=table)
        self._send("timing", "chunk_time", seconds * 1000.0, table=table)

    def batch(self, batch: CommittedBatch) -> None:
        """An incremental Kafka transaction committed: rows, lag, checkpoint age 0."""
        self.checkpoint_at = batch.committed_at
        if batch.changes:
            self._send("incr", "rows", batch.changes)
        if batch.lag_s is not None:
            self._send("gauge", "lag_s", round(batch.lag_s, 3))
        self._send("gauge", "checkpoint_age_s", 0)

    def range_done(self, changes: int, seconds: float) -> None:
        """A change-log range produced: the cycle time and its rows per second."""
        self._send("timing", "cycle_time", seconds * 1000.0)
        self._send("gauge", "rows_per_s", round(changes / max(seconds, 1e-6), 1))

    def quiet(self, last_commit_us: int | None, now: float | None = None) -> None:
        """
        A read of the log found none of the project's changes: the lag is the age of the last commit read
        (other tables' transactions still to read), 0 when the log was read to its end (`last_commit_us`
        None); and the checkpoint's age since its last commit.
        """
        now = time.time() if now is None else now
        self._send("gauge", "lag_s", round(lag_seconds(last_commit_us, now) or 0.0, 3))
        if self.checkpoint_at is not None:
            self._send("gauge", "checkpoint_age_s", round(now - self.checkpoint_at, 3))
