"""
The gap-free handoff from full to incremental synchronization on OceanBase (reference notes §3.3).

The full sync reads every chunk `AS OF SNAPSHOT S` with `S = floor(GTS / 1000) * 1000 - 1` (`snapshot_scn`):
a transaction whose commit version is `c` (ns) is in that snapshot exactly when `floor(c / 1000) <
floor(GTS / 1000)`. The Binlog Service writes `floor(c / 1000)`, the commit time in µs, into each
transaction's GTID event. The incremental sync starts at a binlog position taken before `S` (early, so no
transaction is missed) and skips the transactions whose exact commit time is below `handoff_cutoff_us(S)`:
their rows are already in Kafka from the snapshot. Such a transaction is in the snapshot wherever it shows up
in the log (the Binlog Service does not promise commit-time order), so the cutoff stays with the incremental
checkpoint that starts from that full sync.

Where the commit time is not exact (MySQL and MariaDB write whole seconds; a GTID event without
OceanBase's commit time) nothing is skipped: changes the snapshot already holds are replayed
(at-least-once at the boundary), which `plausible_commit_us` decides per transaction.
"""

from __future__ import annotations

__all__ = ["PLAUSIBLE_SKEW_S", "handoff_cutoff_us", "plausible_commit_us", "snapshot_scn"]

PLAUSIBLE_SKEW_S = 24 * 3600  # an OceanBase commit time this far from the event's own time is not one


def snapshot_scn(gts: int) -> int:
    """The snapshot to read at for a GTS (`current_scn()`, ns): the last nanosecond before its microsecond."""
    if gts < 1000:
        raise ValueError(f"current_scn() {gts} is not an OceanBase SCN (ns since the epoch)")
    return gts // 1000 * 1000 - 1


def handoff_cutoff_us(scn: int) -> int:
    """
    The commit time (µs) below which a transaction is surely in the snapshot `scn`: `floor(c / 1000) <
    (scn + 1) // 1000` implies `c <= scn`, for any `scn`, and is exact for `snapshot_scn`'s.
    """
    return (scn + 1) // 1000


def plausible_commit_us(commit_us: int | None, event_time_s: int | None) -> bool:
    """
    Whether a GTID event's commit time (µs) is OceanBase's, not MySQL's logical clock: it lies within
    `PLAUSIBLE_SKEW_S` of the event header's own time (seconds).
    """
    if commit_us is None or event_time_s is None:
        return False
    return abs(commit_us // 1_000_000 - event_time_s) <= PLAUSIBLE_SKEW_S
