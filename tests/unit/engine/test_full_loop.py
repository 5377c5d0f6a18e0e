"""The chunk loop, checkpoints and progress: pure, with lists for I/O."""

from __future__ import annotations

import zlib

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.full import Progress, message_checksum, sync_rows


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sync_rows_sends_every_row_and_checksums_values():
    sent = []
    clock = Clock()
    progress = Progress("db.t chunk 0", expected=5, every=1.0, clock=clock)

    def encode(row):
        return str(row[0]).encode(), f"v{row[0]}".encode()

    def batches():
        clock.now = 1.0
        yield [(1,), (2,)]
        clock.now = 2.5
        yield [(3,), (4,), (5,)]

    result = sync_rows(batches(), encode, lambda k, v: sent.append((k, v)), progress)
    assert result.rows == 5
    assert [k for k, _ in sent] == [b"1", b"2", b"3", b"4", b"5"]
    assert result.checksum == sum(zlib.crc32(f"v{i}".encode()) for i in range(1, 6))
    assert result.checksum == message_checksum(reversed([v for _, v in sent])), "order does not matter"
    assert progress.lines == [
        "db.t chunk 0: 2 rows, 2 rows/s, 40% of about 5, about 2 s left",
        "db.t chunk 0: 5 rows, 2 rows/s, 100% of about 5, about 0 s left",
        "db.t chunk 0: 5 rows, 2 rows/s, 100% of about 5, about 0 s left",
    ]


def test_progress_without_expected_size_gives_no_estimate():
    clock = Clock()
    progress = Progress("t", expected=None, every=10, clock=clock)
    clock.now = 4.0
    progress.update(100)
    assert progress.lines == []
    progress.update(100, force=True)
    assert progress.lines == ["t: 100 rows, 25 rows/s"]


def test_checkpoint_records_compact_to_the_latest_value():
    records = [
        (checkpoints.chunk_key("s1", "db", "t", 0).encode(), checkpoints.encode({"rows": 1})),
        (checkpoints.chunk_key("s1", "db", "t", 1).encode(), checkpoints.encode({"rows": 2})),
        (checkpoints.chunk_key("s1", "db", "t", 0).encode(), checkpoints.encode({"rows": 3})),
        (checkpoints.chunk_key("s1", "db", "t", 1).encode(), None),
        (None, b"{}"),
    ]
    assert checkpoints.latest(records) == {"chunk/s1/db.t/0": {"rows": 3}}


def test_transactional_ids_are_stable_distinct_and_valid():
    a = checkpoints.transactional_id("shop", "full", "s1", "db.订单", "0")
    b = checkpoints.transactional_id("shop", "full", "s1", "db.客户", "0")
    assert a == checkpoints.transactional_id("shop", "full", "s1", "db.订单", "0")
    assert a != b, "names that differ only in non-ASCII characters keep distinct ids"
    assert a.startswith("obkafka.shop_full_s1_db.") and a.isascii()
    assert checkpoints.sync_id_for("dag/run1") != checkpoints.sync_id_for("dag/run2")
