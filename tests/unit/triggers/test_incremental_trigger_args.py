"""IncrementalSyncTrigger without services: serialize round trip, bad arguments, and the firing rules."""

from __future__ import annotations

import asyncio
import datetime
import time

import pymysql
import pytest
from airflow.sdk.module_loading import import_string

from airflow_provider_obkafka.engine.binlog.transactions import Commit, Resume
from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.pipeline.retry import Backoff
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.triggers import incremental_sync
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger

PATH = "airflow_provider_obkafka.triggers.incremental_sync.IncrementalSyncTrigger"
POSITION = {"file": "mysql-bin.000003", "position": 1234, "gtid_set": "0-1-42", "gtid_flavor": "mariadb"}


def _kwargs(**overrides):
    kwargs = {
        "ob_conn_id": "oceanbase_default",
        "server_id": 4242,
        "position": dict(POSITION),
        "tables": ["shop.orders", "shop.items"],
        "batch_size": 500,
        "max_wait_s": 2.5,
        "end_ts": "2026-01-01T00:00:00+00:00",
        "poll_interval_s": 0.5,
        "retry_for_s": 30.0,
        "skip_committed_before_us": 1_700_000_000_123_456,
        "by_gtid": True,
        "not_before": 1_700_000_010.5,
    }
    kwargs.update(overrides)
    return kwargs


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(_kwargs(), id="all-arguments"),
        pytest.param(_kwargs(end_ts=None), id="continuous"),
        pytest.param(_kwargs(end_ts="2026-03-01T12:30:00.250000+05:30"), id="offset-zone"),
        pytest.param(_kwargs(position={**POSITION, "gtid_set": None, "gtid_flavor": None}), id="no-gtid"),
        pytest.param(_kwargs(skip_committed_before_us=None), id="no-handoff-cutoff"),
    ],
)
def test_serialize_round_trip(kwargs):
    path, dumped = IncrementalSyncTrigger(**kwargs).serialize()
    assert path == PATH
    assert dumped == kwargs
    cls = import_string(path)
    assert cls(**dumped).serialize() == (path, kwargs)


def test_defaults_are_serialized():
    kwargs = {k: v for k, v in _kwargs().items() if k in {"ob_conn_id", "server_id", "position", "tables"}}
    _, dumped = IncrementalSyncTrigger(**kwargs).serialize()
    defaults = {"batch_size": 10_000, "max_wait_s": 5.0, "end_ts": None, "poll_interval_s": 1.0,
                "retry_for_s": 600.0, "skip_committed_before_us": None, "by_gtid": False, "not_before": None}  # fmt: skip
    assert dumped == {**kwargs, **defaults}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        pytest.param({"end_ts": "2026-01-01T00:00:00"}, "end_ts", id="naive-end-ts"),
        pytest.param({"end_ts": "yesterday"}, "end_ts", id="unparsable-end-ts"),
        pytest.param({"batch_size": -1}, "batch_size", id="negative-batch-size"),
        pytest.param({"batch_size": 0}, "batch_size", id="zero-batch-size"),
        pytest.param({"max_wait_s": -1}, "max_wait_s", id="negative-max-wait"),
        pytest.param({"poll_interval_s": 0}, "poll_interval_s", id="zero-poll-interval"),
        pytest.param({"retry_for_s": -1}, "retry_for_s", id="negative-retry-window"),
        pytest.param({"skip_committed_before_us": -5}, "skip_committed_before_us", id="negative-cutoff"),
        pytest.param({"server_id": 0}, "server_id", id="zero-server-id"),
        pytest.param({"tables": ["orders"]}, "tables", id="table-without-database"),
        pytest.param({"tables": []}, "tables", id="no-tables"),
        pytest.param({"position": {"file": "mysql-bin.000003"}}, "position", id="position-without-offset"),
    ],
)
def test_bad_argument_names_it(overrides, named):
    with pytest.raises(ValueError, match=rf"IncrementalSyncTrigger: invalid arguments: .*\b{named}\b"):
        IncrementalSyncTrigger(**_kwargs(**overrides))


def test_naive_end_ts_says_zone():
    with pytest.raises(ValueError, match="end_ts.*no time zone"):
        IncrementalSyncTrigger(**_kwargs(end_ts="2026-01-01T00:00:00"))


# ---------------------------------------------------------------- firing rules over a fake reader
def _pos(offset: int) -> BinlogPosition:
    return BinlogPosition(file="mysql-bin.000003", position=offset)


class FakeLog:
    """
    A scripted binlog: committed transactions `(rows, commit second)` then an open transaction's rows, read
    as a blocking dump reads it: once caught up, a heartbeat (`Resume(idle=True)`) at each wait, and what is
    appended meanwhile is read from the same stream.
    """

    def __init__(self, transactions: list[tuple[int, int]], open_rows: int = 0) -> None:
        self.transactions, self.open_rows, self.readers = transactions, open_rows, []
        self.on_idle = lambda: None
        self.commit_open_at: int | None = None  # the second the open transaction commits at, if it does

    def reader(self, settings, server_id, start, tables, **kwargs):
        assert kwargs["blocking"] and kwargs["markers"], "the trigger keeps one blocking dump with markers"
        self.readers.append(start)
        return FakeReader(self, start)


class FakeReader:
    def __init__(self, log: FakeLog, start: BinlogPosition) -> None:
        self.log, self.start, self.closed = log, start, False

    def close(self) -> None:
        self.closed = True

    def iter_changes(self):
        row = RowChange("shop", "orders", RecordType.INSERT, ("id",), None, (1,))
        done, at = 0, self.start
        while not self.closed:
            for i, (rows, second) in list(enumerate(self.log.transactions))[done:]:
                start, end = _pos(100 * (i + 1)), _pos(100 * (i + 2))
                done = i + 1
                if start.position >= self.start.position:
                    yield from [row] * rows
                    yield Commit(f"t{i}", i, second * 1_000_000, start, end, rows)
                    at = end
            if self.log.open_rows:
                yield from [row] * self.log.open_rows
                rows, self.log.open_rows = self.log.open_rows, 0
                time.sleep(0.4)  # a heartbeat inside an open transaction is no marker
                if self.log.commit_open_at is not None:  # its rows were read: only its commit is left
                    done = len(self.log.transactions) + 1
                    self.log.transactions.append((rows, self.log.commit_open_at))
                    at = _pos(100 * (done + 1))
                    second = self.log.commit_open_at
                    yield Commit(f"t{done - 1}", done - 1, second * 1_000_000, _pos(100 * done), at, rows)
                continue
            yield Resume(at, idle=True)
            self.log.on_idle()
            time.sleep(0.01)


def _fire(monkeypatch, log: FakeLog, reader=None, **overrides) -> dict:
    monkeypatch.setattr(incremental_sync, "BinlogReader", reader or log.reader)
    monkeypatch.setattr(IncrementalSyncTrigger, "_connection", lambda self: ({}, False))
    kwargs = _kwargs(**{"position": _pos(100).model_dump(mode="json"), "poll_interval_s": 0.01, **overrides})
    trigger = IncrementalSyncTrigger(**kwargs)
    return asyncio.run(asyncio.wait_for(trigger.run().__anext__(), 5)).payload


def _utc(second: int) -> str:
    return datetime.datetime.fromtimestamp(second, tz=datetime.UTC).isoformat()


def test_batch_stops_at_the_commit_that_reaches_it(monkeypatch):
    log = FakeLog([(5, 10), (5, 11), (5, 12)])
    event = _fire(monkeypatch, log, batch_size=8, max_wait_s=60, end_ts=None)
    assert (event["changes"], event["end"]["position"], event["reached_end"]) == (10, 300, False)
    assert event["start"]["position"] == 100


def test_a_ready_event_waits_until_not_before(monkeypatch):
    """
    Under Airflow 3.3's scheduler a resume that starts before the scheduler has processed the deferring
    process's exit is taken for a killed task (`not_before`): the changes are there at once, the event waits.
    """
    log = FakeLog([(5, 10)])
    began = time.time()
    event = _fire(monkeypatch, log, batch_size=5, max_wait_s=0, end_ts=None, not_before=began + 1.0)
    assert event["changes"] == 5
    assert time.time() >= began + 1.0, "held until not_before"
    assert _fire(monkeypatch, FakeLog([(5, 10)]), batch_size=5, max_wait_s=0, end_ts=None,
                 not_before=began - 60)["changes"] == 5, "a time already past holds nothing"  # fmt: skip


def test_open_transaction_is_never_counted(monkeypatch):
    log = FakeLog([(3, 10)], open_rows=50)
    event = _fire(monkeypatch, log, batch_size=10, max_wait_s=0, end_ts=None)
    assert (event["changes"], event["end"]["position"]) == (3, 200)


def test_one_stream_is_kept_across_waits_and_counts_what_commits_meanwhile(monkeypatch):
    log = FakeLog([(2, 10)])
    log.on_idle = lambda: log.transactions.append((2, 11)) if len(log.transactions) == 1 else None
    event = _fire(monkeypatch, log, batch_size=4, max_wait_s=60, end_ts=None)
    assert (event["changes"], event["start"]["position"], event["end"]["position"]) == (4, 100, 300)
    assert [r.position for r in log.readers] == [100], "one dump for the whole wait, not one per poll"


def test_a_heartbeat_inside_an_open_transaction_does_not_fire_early(monkeypatch):
    log = FakeLog([(3, 10)], open_rows=5)
    log.commit_open_at = 11  # the open transaction commits after a heartbeat inside it (no marker)
    event = _fire(monkeypatch, log, batch_size=10, max_wait_s=0, end_ts=None, poll_interval_s=0.3)
    assert (event["changes"], event["end"]["position"], event["reached_end"]) == (8, 300, False)


def test_past_max_wait_a_backlog_is_read_through_not_cut_at_its_first_commit(monkeypatch):
    log = FakeLog([(3, 10), (4, 11), (5, 12)])
    event = _fire(monkeypatch, log, batch_size=1000, max_wait_s=0, end_ts=None, poll_interval_s=0.3)
    assert (event["changes"], event["end"]["position"], event["reached_end"]) == (12, 400, False)


def test_end_ts_stops_before_the_first_later_commit(monkeypatch):
    log = FakeLog([(3, 100), (4, 149), (5, 150), (6, 151)])
    event = _fire(monkeypatch, log, batch_size=1000, max_wait_s=60, end_ts=_utc(150))
    assert (event["changes"], event["end"]["position"], event["reached_end"]) == (7, 300, True)


def test_passed_end_ts_on_a_quiet_log_fires_empty(monkeypatch):
    event = _fire(monkeypatch, FakeLog([]), batch_size=1000, max_wait_s=60, end_ts=_utc(1_000))
    assert event == {"status": "ready", "start": _pos(100).model_dump(mode="json"),
                     "end": _pos(100).model_dump(mode="json"), "changes": 0, "reached_end": True,
                     "skip_committed_before_us": 1_700_000_000_123_456}  # handed back for the worker


def test_reader_failure_yields_error_with_the_checkpoint(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("binlog endpoint gone")

    event = _fire(monkeypatch, FakeLog([]), reader=broken)
    assert event == {"status": "error", "message": "OSError: binlog endpoint gone",
                     "position": _pos(100).model_dump(mode="json"), "fatal": False}


def test_unreachable_source_is_waited_out_then_gives_up(monkeypatch, capfd):
    monkeypatch.setattr(incremental_sync, "Backoff", lambda give_up_s: Backoff(base_s=0.01, give_up_s=0.3))
    attempts = []

    def refused(*args, **kwargs):
        attempts.append(time.monotonic())
        raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1'")

    event = _fire(monkeypatch, FakeLog([]), reader=refused)
    logged = "".join(capfd.readouterr())
    assert event["status"] == "error"
    assert event["fatal"] is False
    assert "2003" in event["message"]
    assert len(attempts) >= 3, "an unreachable source is tried again, not given up at once"
    assert "unreachable (OperationalError: (2003" in logged
    assert "(attempt 2)" in logged


def test_source_back_after_a_restart_resumes(monkeypatch):
    fast = lambda give_up_s: Backoff(base_s=0.01, give_up_s=give_up_s)  # noqa: E731
    monkeypatch.setattr(incremental_sync, "Backoff", fast)
    log = FakeLog([(3, 10)])
    calls = []

    def flaky(settings, server_id, start, tables, **kwargs):
        calls.append(start)
        if len(calls) <= 2:
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
        return FakeReader(log, start)

    event = _fire(monkeypatch, log, reader=flaky, batch_size=3, max_wait_s=60, end_ts=None)
    assert (event["status"], event["changes"], event["end"]["position"]) == ("ready", 3, 200)
    assert len(calls) == 3


def test_a_stream_lost_mid_wait_is_opened_again_from_the_last_commit(monkeypatch):
    monkeypatch.setattr(incremental_sync, "Backoff", lambda give_up_s: Backoff(base_s=0.01, give_up_s=5))
    log = FakeLog([(2, 10)])

    class Dropping(FakeReader):
        def iter_changes(self):
            items = super().iter_changes()
            for item in items:
                yield item
                if isinstance(item, Resume) and len(log.readers) == 1:  # the socket's read timeout expires
                    log.transactions.append((2, 11))
                    raise pymysql.err.OperationalError(2013, "Lost connection to the binlog server: timed out")

    def reader(settings, server_id, start, tables, **kwargs):
        assert settings["read_timeout"] >= 2.0, "a read timeout of a few heartbeat periods"
        log.readers.append(start)
        return Dropping(log, start)

    event = _fire(monkeypatch, log, reader=reader, batch_size=4, max_wait_s=60, end_ts=None)
    assert (event["changes"], event["end"]["position"]) == (4, 300)
    assert [r.position for r in log.readers] == [100, 200], "reopened from the last commit counted"


def test_purged_position_is_a_fatal_error_at_once(monkeypatch):
    calls = []

    def purged(*args, **kwargs):
        calls.append(1)
        raise pymysql.err.OperationalError(1236, "Could not find first log file name in binary log index")

    event = _fire(monkeypatch, FakeLog([]), reader=purged)
    assert event["status"] == "error"
    assert event["fatal"] is True
    assert len(calls) == 1
    assert "no longer holds mysql-bin.000003:100" in event["message"]
    assert "full synchronization" in event["message"]
