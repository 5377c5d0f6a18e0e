"""The incremental summary line: one INFO line per interval, each batch at DEBUG, observers see every batch."""

from __future__ import annotations

import logging

from airflow_provider_obkafka.engine.pipeline.report import CommittedBatch, StreamSummary, lag_seconds
from airflow_provider_obkafka.models.position import BinlogPosition


def _batch(n: int, total: int, at: float, commit_s: float | None) -> CommittedBatch:
    ts = None if commit_s is None else int(commit_s * 1e6)
    return CommittedBatch(n, total, BinlogPosition(file="mysql-bin.000002", position=100 * total), ts, at)


def test_one_info_line_per_interval_and_every_batch_at_debug(caplog):
    now = [1000.0]
    seen: list[CommittedBatch] = []
    summary = StreamSummary("incremental sync of shop", every=60, observers=[seen.append], clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_obkafka.engine.pipeline.report"):
        for i in range(1, 31):  # 30 batches over 45 s, then 30 more over the next 45 s
            now[0] += 1.5
            summary.batch(_batch(10, 10 * i, now[0], now[0] - 2.0))
        for i in range(31, 61):
            now[0] += 1.5
            summary.batch(_batch(10, 10 * i, now[0], None if i == 60 else now[0] - 0.5))
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 60 and len(seen) == 60
    assert info == summary.lines and len(info) == 1, info
    assert info[0] == ("incremental sync of shop: 400 changes in the last 60 s (7/s), 400 in all; lag 0.5 s; "
                       "checkpoint mysql-bin.000002:40000")  # fmt: skip
    assert summary.flush(", idle").endswith("lag unknown; checkpoint mysql-bin.000002:60000, idle")
    assert summary.flush() is None, "nothing new: no line"


def test_lag_is_never_negative_and_unknown_without_a_commit_time():
    assert lag_seconds(None, 10.0) is None
    assert lag_seconds(12_000_000, 10.0) == 0.0, "a source clock ahead of ours gives 0, not a negative lag"
    assert lag_seconds(7_500_000, 10.0) == 2.5
