"""The gap-free handoff's arithmetic (reference notes §3.3) and where the operator takes its cutoff from."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.binlog.handoff import handoff_cutoff_us, plausible_commit_us, snapshot_scn
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._incremental import handoff_cutoff

GTS = 1_732_000_000_123_456_789  # ns


def visible(commit_ns: int, scn: int) -> bool:
    """What an AS OF SNAPSHOT read at `scn` sees: the transactions committed at or before it."""
    return commit_ns <= scn


def skipped(commit_ns: int, scn: int) -> bool:
    """What the incremental sync skips: an exact commit time (µs, as obbinlog writes it) below the cutoff."""
    return commit_ns // 1000 < handoff_cutoff_us(scn)


def test_snapshot_is_the_last_nanosecond_before_the_gts_microsecond():
    assert snapshot_scn(GTS) == 1_732_000_000_123_455_999
    assert handoff_cutoff_us(snapshot_scn(GTS)) == GTS // 1000
    with pytest.raises(ValueError, match="not an OceanBase SCN"):
        snapshot_scn(5)


@pytest.mark.parametrize("scn", [snapshot_scn(GTS), GTS, GTS - 1, GTS + 1, 999, 1000])
def test_a_skipped_transaction_is_always_in_the_snapshot(scn: int):
    """Never skip what the snapshot lacks (that would lose it), for any SCN, rounded or not."""
    for commit_ns in range(scn - 3000, scn + 3000):
        if skipped(commit_ns, scn):
            assert visible(commit_ns, scn), commit_ns


def test_with_the_rounded_snapshot_skipping_is_exactly_visibility():
    """No replay either: with `snapshot_scn`, skipped and visible are the same transactions."""
    scn = snapshot_scn(GTS)
    assert all(skipped(c, scn) == visible(c, scn) for c in range(scn - 5000, scn + 5000))


@pytest.mark.parametrize(
    ("commit_us", "event_s", "plausible"),
    [(1_732_000_000_123_456, 1_732_000_001, True), (1_732_000_000_123_456, 1_732_000_000 + 25 * 3600, False),
     (5 * 1_000_000 + 6, 1_732_000_001, False), (None, 1_732_000_001, False), (1_732_000_000_000_000, None, False)],
    ids=["obbinlog", "a day away", "MySQL logical clock", "no commit time", "no event time"],
)  # fmt: skip
def test_plausible_commit_time(commit_us, event_s, plausible):
    assert plausible_commit_us(commit_us, event_s) is plausible


FULL_AT = BinlogPosition(file="mysql-bin.000007", position=1200)
SCN = snapshot_scn(GTS)


@pytest.mark.parametrize(
    ("state", "start", "cutoff"),
    [
        ({checkpoints.LAST_FULL_SYNC_KEY: {"scn": SCN, "binlog": FULL_AT.model_dump()}}, FULL_AT, GTS // 1000),
        ({checkpoints.LAST_FULL_SYNC_KEY: {"scn": None, "binlog": FULL_AT.model_dump()}}, FULL_AT, None),
        ({checkpoints.LAST_FULL_SYNC_KEY: {"scn": SCN, "binlog": FULL_AT.model_dump()}},
         BinlogPosition(file="mysql-bin.000009", position=4), None),
        ({checkpoints.INCREMENTAL_KEY: {**FULL_AT.model_dump(), "skip_committed_before_us": 42},
          checkpoints.LAST_FULL_SYNC_KEY: {"scn": SCN + 10**12, "binlog": FULL_AT.model_dump()}}, FULL_AT, 42),
        ({checkpoints.INCREMENTAL_KEY: FULL_AT.model_dump(),
          checkpoints.LAST_FULL_SYNC_KEY: {"scn": SCN, "binlog": FULL_AT.model_dump()}}, FULL_AT, None),
        ({}, FULL_AT, None),
    ],
    ids=["handoff on OceanBase", "handoff without SCN (MySQL, MariaDB)", "started elsewhere (a start time)",
         "the checkpoint keeps its own cutoff", "a checkpoint without one: a later full sync changes nothing",
         "nothing recorded"],
)  # fmt: skip
def test_operator_takes_the_cutoff_only_at_the_handoff(state, start, cutoff):
    assert handoff_cutoff(state, start) == cutoff
