"""The chunk loop, checkpoints and progress: pure, with lists for I/O."""

from __future__ import annotations

import zlib

import pytest

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.full import Progress, message_checksum, sync_rows
from airflow_provider_obkafka.exceptions import CheckpointError


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


@pytest.mark.parametrize(("brokers", "replication", "min_insync"), [(1, 1, "1"), (2, 2, "2"), (3, 3, "2"), (9, 3, "2")])
def test_checkpoint_topic_replication_follows_the_cluster_not_the_data_topics(brokers, replication, min_insync):
    spec = checkpoints.checkpoint_topic_spec("__obkafka_checkpoints.p", brokers)
    assert (spec.name, spec.partitions, spec.replication_factor) == ("__obkafka_checkpoints.p", 1, replication)
    assert spec.configs["min.insync.replicas"] == min_insync
    assert spec.configs["cleanup.policy"] == "compact"
    assert int(spec.configs["segment.ms"]) <= 3_600_000, "segments roll often enough for compaction to keep up"


def test_chunk_range_keys_differ_by_range_not_by_index():
    first = {"index": 0, "key_columns": ["id"], "lower": None, "upper": [1001]}
    same_range_other_index = {**first, "index": 4}
    replanned = {**first, "upper": [1501]}
    key = checkpoints.chunk_range_key("s1", "db", "t", first)
    assert key.startswith("chunk/s1/db.t/range-")
    assert key == checkpoints.chunk_range_key("s1", "db", "t", same_range_other_index)
    assert key != checkpoints.chunk_range_key("s1", "db", "t", replanned)
    assert key != checkpoints.chunk_range_key("s1", "db", "u", first)


def test_finish_records_close_a_full_sync_in_one_transaction():
    work = [{"sync_id": "s1", "scn": 7, "chunk": {"database": "db", "table": "t", "index": i, "key_columns": ["id"],
                                                   "lower": None, "upper": None}} for i in range(2)]  # fmt: skip
    done = [checkpoints.chunk_done_key(item) for item in work]
    earlier = {"chunk/s0/db.t/0": {"rows": 3}, "snapshot/s0": {"scn": 2}, "full/finished/s0": {"rows": 3}}
    state = {done[0]: {"rows": 10}, done[1]: {"rows": 5}, "snapshot/s1": {"scn": 7},
             "chunk/s1/db.t/range-old": {"rows": 1}, "chunk/s2/db.t/0": {"rows": 9}, **earlier}  # fmt: skip
    records = checkpoints.finish_records("s1", state, done)
    assert records[0] == ("full/finished/s1", {"sync_id": "s1", "chunks": 2, "rows": 15}), "the finished record first"
    assert sorted(records[1:]) == sorted([("chunk/s1/db.t/range-old", None), *((k, None) for k in earlier)]), (
        "the earlier finished sync and an abandoned plan's record; none of s1's done-records, none of s2"
    )
    replayed = checkpoints.latest([(k.encode(), None if v is None else checkpoints.encode(v)) for k, v in
                                   [*state.items(), *records]])  # fmt: skip
    assert replayed == {"full/finished/s1": records[0][1], done[0]: {"rows": 10}, done[1]: {"rows": 5},
                        "snapshot/s1": {"scn": 7}, "chunk/s2/db.t/0": {"rows": 9}}  # fmt: skip


def test_finish_records_refuse_an_unfinished_full_sync():
    with pytest.raises(CheckpointError, match=r"full synchronization s1 is not finished: 1 chunk\(s\)"):
        checkpoints.finish_records("s1", {"chunk/s1/db.t/0": {"rows": 1}}, ["chunk/s1/db.t/0", "chunk/s1/db.t/1"])


def test_done_keys_by_index_at_a_snapshot_by_range_without():
    chunk = {"database": "db", "table": "t", "index": 3, "key_columns": ["id"], "lower": [1], "upper": [9]}
    assert checkpoints.chunk_done_key({"sync_id": "s", "scn": 5, "chunk": chunk}) == "chunk/s/db.t/3"
    assert checkpoints.chunk_done_key({"sync_id": "s", "scn": None, "chunk": chunk}).startswith("chunk/s/db.t/range-")
