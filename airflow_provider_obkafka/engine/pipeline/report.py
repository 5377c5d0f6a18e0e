"""
What a long-running incremental synchronization tells about itself: each committed batch (`CommittedBatch`),
logged at DEBUG, and one INFO summary line every `every` seconds (`StreamSummary`): changes since the last
line and in all, changes per second, the replication lag (how long ago the last change produced was committed
in the source) and the position. A task that follows the change log for days keeps a log one can read: a line
a minute, not one per Kafka transaction. Observers (the operator's metrics) see every batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = ["CommittedBatch", "StreamSummary", "lag_seconds"]

log = logging.getLogger(__name__)


def lag_seconds(commit_ts_us: int | None, now: float) -> float | None:
    """Seconds between a source commit time (µs since the epoch) and `now` (epoch seconds); never below 0."""
    if commit_ts_us is None:
        return None
    return max(now - commit_ts_us / 1e6, 0.0)


@dataclass(frozen=True, slots=True)
class CommittedBatch:
    """
    One Kafka transaction of changes and its checkpoint, just committed.

    :param changes: the messages' changes in this transaction
    :param total: the changes committed by this range so far
    :param position: the checkpoint: where the next read starts
    :param commit_ts_us: the source commit time of the last change in the batch (None: the batch had none)
    :param committed_at: when the Kafka transaction was committed (epoch seconds)
    """

    changes: int
    total: int
    position: BinlogPosition
    commit_ts_us: int | None
    committed_at: float

    @property
    def lag_s(self) -> float | None:
        """Replication lag at the commit: how long ago the last change of the batch was committed at the source."""
        return lag_seconds(self.commit_ts_us, self.committed_at)


class StreamSummary:
    """
    Logs each batch at DEBUG and a summary at INFO at most every `every` seconds, and passes every batch on.

    :param label: what is synchronized (the project), for the log lines
    :param every: seconds between two INFO summaries (0: one per batch)
    :param observers: called with every batch (metrics)
    :param logger: where the lines go (the task's logger)
    :param clock: epoch seconds (injected by tests)
    """

    def __init__(
        self,
        label: str,
        every: float = 60.0,
        observers: Iterable[Callable[[CommittedBatch], None]] = (),
        logger: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.label = label
        self.every = every
        self.observers = list(observers)
        self.log = logger or log
        self.clock = clock
        self.changes = self.since = 0
        self.last: CommittedBatch | None = None
        self.window_start = self.clock()
        self.lines: list[str] = []

    def batch(self, committed: CommittedBatch) -> None:
        """Record a committed batch: DEBUG line, observers, and the INFO summary when one is due."""
        self.log.debug("%s: %d changes committed (%d in this range) up to %s:%s, lag %s", self.label,
                       committed.changes, committed.total, committed.position.file, committed.position.position,
                       _seconds(committed.lag_s))  # fmt: skip
        self.changes += committed.changes
        self.since += committed.changes
        self.last = committed
        for observe in self.observers:
            observe(committed)
        if self.clock() - self.window_start >= self.every:
            self.flush()

    def flush(self, note: str = "") -> str | None:
        """Log the summary of the batches since the last one now (nothing when there were none)."""
        if self.last is None or (self.since == 0 and not note):
            return None
        now = self.clock()
        rate = self.since / max(now - self.window_start, 1e-9)
        position = self.last.position
        line = (f"{self.label}: {self.since} changes in the last {now - self.window_start:.0f} s "
                f"({rate:,.0f}/s), {self.changes} in all; lag {_seconds(self.last.lag_s)}; "
                f"checkpoint {position.file}:{position.position}{note}")  # fmt: skip
        self.lines.append(line)
        self.log.info("%s", line)
        self.since, self.window_start = 0, now
        return line


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f} s"
