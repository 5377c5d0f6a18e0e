"""copy_range: exactly the transactions that start before the end, in batches, over plain item lists."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.binlog.transactions import Commit, Resume, SchemaChange
from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.pipeline.copy_range import Pace, Slices, copy_range, transaction_start
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.models.position import BinlogPosition


def _pos(offset: int, file: str = "binlog.000002") -> BinlogPosition:
    return BinlogPosition(file=file, position=offset)


def _txn(start: BinlogPosition, end: BinlogPosition, rows: int) -> list:
    row = RowChange("shop", "orders", RecordType.INSERT, ("id",), None, (1,),
                    checkpoint=f"{start.file}:{start.position}")  # fmt: skip
    return [row] * rows + [Commit(f"t{start.position}", 1, 0, start, end, rows)]


LOG = _txn(_pos(100), _pos(200), 3) + _txn(_pos(200), _pos(300), 2) + _txn(_pos(300), _pos(400), 4)


def _copy(items, end, **kwargs):
    sent: list[RowChange] = []
    batches: list[int] = []
    count = copy_range(items, end, send=lambda c: sent.append(c) or 1,
                       on_batch=lambda p: batches.append(p.position), **kwargs)  # fmt: skip
    return count, len(sent), batches


def test_transaction_start_reads_the_checkpoint():
    change = RowChange("d", "t", RecordType.DELETE, ("id",), (1,), None, checkpoint="mysql-bin.000012:4567")
    assert transaction_start(change) == BinlogPosition(file="mysql-bin.000012", position=4567)


def test_stops_at_the_commit_that_ends_at_end():
    assert _copy(iter(LOG), _pos(300)) == (5, 5, [])


def test_batches_close_at_commits_once_the_size_is_reached_but_never_at_end():
    assert _copy(iter(LOG), _pos(400), batch_size=2) == (9, 9, [200, 300])


def test_a_transaction_starting_at_end_is_not_sent_even_without_its_commit():
    open_txn = LOG[:5] + [
        RowChange("shop", "orders", RecordType.INSERT, ("id",), None, (9,), checkpoint="binlog.000002:200")
    ]
    assert _copy(iter(open_txn), _pos(200)) == (3, 3, [])


def test_end_at_a_file_start_stops_before_the_first_transaction_there():
    items = _txn(_pos(100), _pos(200), 1) + _txn(_pos(4, "binlog.000003"), _pos(90, "binlog.000003"), 1)
    assert _copy(iter(items), _pos(4, "binlog.000003")) == (1, 1, [])


def test_schema_change_at_end_is_applied_and_stops():
    ddl = SchemaChange("shop", "orders", "ALTER", "ALTER TABLE orders ADD c INT", _pos(250))
    seen: list[SchemaChange] = []
    items = LOG[:4] + [ddl] + _txn(_pos(250), _pos(300), 2)
    count = copy_range(iter(items), _pos(250), send=lambda c: 1, on_batch=lambda p: None,
                       on_schema_change=seen.append)  # fmt: skip
    assert (count, seen) == (3, [ddl])


def test_end_inside_a_transaction_is_an_error():
    with pytest.raises(CheckpointError, match="inside the transaction"):
        _copy(iter(LOG), _pos(250))


def test_log_ending_before_end_is_an_error_unless_the_reader_reached_it():
    with pytest.raises(CheckpointError, match="ended before the reported position binlog.000002:500"):
        _copy(iter(LOG), _pos(500))
    # a statement of another table moved the reader to 500 without an item: the range is complete
    assert _copy(iter(LOG), _pos(500), position=lambda: _pos(500))[0] == 9


def _numbered_txn(start: BinlogPosition, end: BinlogPosition, rows: int) -> list:
    where = f"{start.file}:{start.position}"
    changes = [RowChange("shop", "orders", RecordType.INSERT, ("id",), None, (start.position + n,),
                         checkpoint=where, sequence=n) for n in range(1, rows + 1)]  # fmt: skip
    return [*changes, Commit(f"t{start.position}", 1, 0, start, end, rows)]


BIG_LOG = _numbered_txn(_pos(100), _pos(200), 2) + _numbered_txn(_pos(200), _pos(300), 7)


def _sliced(items, end, slices, **kwargs):
    sent: list[int] = []
    splits: list[tuple[int, int]] = []
    slices.on_split = lambda at, changes: splits.append((at.position, changes))
    copy_range(items, end, send=lambda c: sent.append(c.after[0]) or 1,
               on_batch=lambda p: splits.append(p.position), slices=slices, **kwargs)  # fmt: skip
    return sent, splits


def test_a_source_transaction_over_the_limit_is_split_with_its_start_and_the_changes_sent():
    sent, splits = _sliced(iter(BIG_LOG), _pos(300), Slices(_pos(100), limit=3), batch_size=1)
    assert sent == [101, 102, 201, 202, 203, 204, 205, 206, 207]
    # the first transaction fits (a batch at its commit), the second is cut every 3 changes
    assert splits == [200, (200, 3), (200, 6)]


def test_a_slice_counts_the_changes_since_the_last_commit_of_a_kafka_transaction():
    sent, splits = _sliced(iter(BIG_LOG), _pos(300), Slices(_pos(100), limit=4))
    assert splits == [(200, 2), (200, 6)], "no batch at the first commit: its 2 changes count toward it"


def test_a_resume_inside_the_transaction_skips_exactly_what_was_committed():
    items = _numbered_txn(_pos(200), _pos(300), 7)
    sent, splits = _sliced(iter(items), _pos(300), Slices(_pos(200), limit=3, skip=3))
    assert sent == [204, 205, 206, 207]
    assert splits == [(200, 6)], "the checkpoints go on counting from the transaction's start"


def test_the_skip_ends_at_the_transactions_commit():
    sent, _ = _sliced(iter(BIG_LOG), _pos(300), Slices(_pos(100), skip=2))
    assert sent == [201, 202, 203, 204, 205, 206, 207]


class _Clock:
    """A clock the item list moves: a number in the list is the seconds that pass before the next item."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def play(self, items):
        for item in items:
            if isinstance(item, int | float):
                self.now += item
            else:
                yield item


def _idle(offset: int) -> Resume:
    return Resume(_pos(offset), idle=True)


def _stream(items, pace_args, batch_size=None):
    """copy_range with no end (a streaming worker's): what was sent, and the positions batches closed at."""
    clock, idles = _Clock(), []
    pace = Pace(clock=clock, on_quiet=lambda commit_us: idles.append((clock.now, commit_us)), **pace_args)
    sent, batches = [], []
    count = copy_range(clock.play(items), None, send=lambda c: sent.append(c) or 1, pace=pace,
                       on_batch=lambda p: batches.append((p.position, clock.now)), batch_size=batch_size)  # fmt: skip
    return count, batches, idles, clock.now


def test_an_open_range_commits_at_each_idle_heartbeat_and_ends_after_idle_s_without_a_change():
    items = [*LOG[:4], 0.25, _idle(200), 1.0, *LOG[4:7], 0.25, _idle(300), 1.0, _idle(300), 1.0, _idle(300),
             *LOG[7:]]  # never reached: idle for 2 s at 300
    count, batches, idles, now = _stream(items, {"flush_s": 5.0, "idle_s": 2.0})
    assert count == 5
    assert batches == [(200, 0.25), (300, 1.5)], "the changes before each heartbeat, committed there"
    assert now == 3.5
    assert idles == [(0.25, None), (1.5, None), (2.5, None), (3.5, None)], "each idle heartbeat: read to the end"


def test_an_open_range_flushes_at_a_transaction_end_once_its_kafka_transaction_is_flush_s_old():
    txns = [_txn(_pos(100 * n), _pos(100 * n + 100), 1) for n in range(1, 6)]
    items = [step for txn in txns for step in (*txn, 0.1)] + [2.0, _idle(600), 1.0, _idle(600)]
    count, batches, _, _ = _stream(items, {"flush_s": 0.25, "idle_s": 1.0}, batch_size=100)
    assert count == 5
    # the Kafka transaction opened at 0 (its first change); the commits ending at 200, 300 and 400 come at 0,
    # 0.1 and 0.2 s: younger than 0.25 s; the one ending at 500 (0.3 s) closes it; 600 goes at the heartbeat
    assert batches == [(500, pytest.approx(0.3)), (600, pytest.approx(2.5))]


def test_an_open_range_ends_in_a_busy_log_without_changes_of_its_tables():
    other = [Commit(f"t{n}", 1, 0, _pos(n), _pos(n + 10), 0) for n in range(200, 300, 10)]
    items = [*LOG[:4], 0.5] + [step for commit in other for step in (commit, 0.5)]
    count, batches, quiet, now = _stream(items, {"flush_s": 0.25, "idle_s": 2.0})
    assert count == 3
    assert batches == [(210, 0.5)], "the changes' Kafka transaction, closed at the next commit"
    assert now == 2.5, "it ends at the first commit 2 s after that, though no heartbeat came"
    assert quiet == [(t, 0) for t in (0.5, 1.0, 1.5, 2.0, 2.5)], "behind by the commits read, once per flush_s"


def test_an_open_range_whose_dump_ends_raises_a_connection_error_not_a_partial_commit():
    """The server ended the dump inside a transaction: its changes must not be committed with the checkpoint."""
    open_txn = [*LOG[:4], 0.1, *LOG[4:6]]  # the second transaction's changes, no commit
    with pytest.raises(ConnectionError, match="dump ended"):
        _stream(open_txn, {"flush_s": 0.05, "idle_s": 5.0})
