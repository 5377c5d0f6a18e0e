"""IncrementalSyncTrigger on each source (MariaDB, the obbinlog double): batch, free event loop, end_ts, quiet."""

from __future__ import annotations

import asyncio
import datetime
import math
import time

import pytest

import devservices
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger

SERVER_ID = 4343


@pytest.fixture
def db(source, mariadb_database):
    name, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name}.a (id INT PRIMARY KEY, v VARCHAR(20))")
        cur.execute(f"CREATE TABLE {name}.outside (id INT PRIMARY KEY)")
    return name, conn, source


def _position(source) -> dict:
    """The source's end now (on the double: once it holds every transaction MariaDB committed)."""
    return source.position().model_dump(mode="json")


def _key(position: dict) -> tuple[str, int]:
    return position["file"], position["position"]


def _trigger(name: str, source, position: dict, **kwargs) -> IncrementalSyncTrigger:
    return IncrementalSyncTrigger(
        ob_conn_id=source.conn_id, server_id=SERVER_ID, position=position, tables=[f"{name}.a"], **kwargs
    )


def _first_event(trigger: IncrementalSyncTrigger, timeout: float = 30) -> dict:
    async def first() -> dict:
        event = await asyncio.wait_for(trigger.run().__anext__(), timeout)
        return event.payload

    return asyncio.run(first())


def _insert(conn, name: str, ids: range, table: str = "a") -> None:
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        for i in ids:
            cur.execute(f"INSERT INTO {name}.{table} VALUES (%s{', %s' if table == 'a' else ''})",
                        (i, f"v{i}") if table == "a" else (i,))  # fmt: skip
        cur.execute("COMMIT")


def test_fires_when_batch_is_reached(db):
    name, conn, source = db
    start = _position(source)
    _insert(conn, name, range(0, 10))
    _insert(conn, name, range(0, 50), table="outside")
    after_first = _position(source)
    _insert(conn, name, range(10, 20))
    after_second = _position(source)
    _insert(conn, name, range(50, 60), table="outside")
    _insert(conn, name, range(20, 30))
    source.caught_up()

    event = _first_event(_trigger(name, source, start, batch_size=20, max_wait_s=60, poll_interval_s=0.2))

    assert event["status"] == "ready"
    assert event["start"] == start
    assert event["changes"] == 20  # two whole transactions of 10; the out-of-scope rows never count
    assert event["reached_end"] is False
    assert _key(after_first) < _key(event["end"]) <= _key(after_second)


def test_waiting_never_blocks_the_event_loop(db):
    name, conn, source = db
    start = _position(source)
    trigger = _trigger(name, source, start, batch_size=1000, max_wait_s=0.2, poll_interval_s=0.2)
    ticks: list[float] = []

    async def scenario() -> dict:
        done = asyncio.Event()

        async def tick() -> None:
            while not done.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        async def write_later() -> None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(_insert, conn, name, range(1, 2))

        async def wait_event() -> dict:
            try:
                return (await asyncio.wait_for(trigger.run().__anext__(), 30)).payload
            finally:
                done.set()

        event, _, _ = await asyncio.gather(wait_event(), tick(), write_later())
        return event

    began = time.monotonic()
    event = asyncio.run(scenario())
    waited = time.monotonic() - began

    assert event["status"] == "ready" and event["changes"] == 1
    assert waited >= 1.0
    assert len(ticks) >= 50
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 0.2, f"the event loop was blocked for {max(gaps):.3f}s"


def test_end_ts_stops_before_later_transaction(db):
    name, conn, source = db
    start = _position(source)
    _insert(conn, name, range(0, 3))
    after_early = _position(source)
    time.sleep(1.1)
    end_ts = datetime.datetime.fromtimestamp(math.floor(time.time()), tz=datetime.UTC)
    before_late = _position(source)
    _insert(conn, name, range(3, 5))
    source.caught_up()

    trigger = _trigger(name, source, start, batch_size=1000, max_wait_s=60, end_ts=end_ts.isoformat(),
                       poll_interval_s=0.2)  # fmt: skip
    event = _first_event(trigger)

    assert event["status"] == "ready"
    assert event["reached_end"] is True
    assert event["changes"] == 3
    assert event["start"] == start
    assert _key(after_early) <= _key(event["end"]) <= _key(before_late)


def test_quiet_interval_finishes(db):
    name, _, source = db
    start = _position(source)
    end_ts = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).isoformat()
    trigger = _trigger(name, source, start, batch_size=1000, max_wait_s=60, end_ts=end_ts, poll_interval_s=0.2)

    began = time.monotonic()
    event = _first_event(trigger, timeout=10)

    assert time.monotonic() - began < 5
    assert event == {"status": "ready", "start": start, "end": start, "changes": 0, "reached_end": True,
                     "skip_committed_before_us": None}


@pytest.fixture
def mariadb_env(monkeypatch, mariadb_service):
    """Only `AIRFLOW_CONN_MARIADB_BINLOG` (the full `airflow_conn_env` would also start Kafka and seekdb)."""
    for key, value in devservices.airflow_env(mariadb=mariadb_service).items():
        monkeypatch.setenv(key, value)


def test_unreachable_source_yields_error(mariadb_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOWHERE", "oceanbase://root@127.0.0.1:1")
    position = {"file": "mysql-bin.000001", "position": 4, "gtid_set": None, "gtid_flavor": None}
    trigger = IncrementalSyncTrigger(ob_conn_id="nowhere", server_id=SERVER_ID, position=position,
                                     tables=["x.y"], poll_interval_s=0.1, retry_for_s=2)  # fmt: skip

    began = time.monotonic()
    event = _first_event(trigger, timeout=20)

    assert event["status"] == "error"
    assert event["position"] == position
    assert "2003" in event["message"] and event["fatal"] is False, "a retry of the task may find it up again"
    assert 2 <= time.monotonic() - began < 15, "waited out for retry_for_s, then given up"


def test_one_cycle_carries_every_transaction_committed_before_it_started(db):
    """
    Past `max_wait_s` the trigger reads on to what the log already holds, until it has caught up (a heartbeat
    with no transaction open), instead of firing at the first commit it reads: on the double that rule made
    each cycle carry one transaction and pay a whole cycle's fixed costs for it (`docs/benchmarks.md`).
    """
    name, conn, source = db
    start = _position(source)
    for first in range(0, 2000, 20):
        _insert(conn, name, range(first, first + 20))
    end = _position(source)
    if source.is_obbinlog:
        assert end["file"] != start["file"], "the backlog spans files on the double"

    trigger = _trigger(name, source, start, batch_size=1_000_000, max_wait_s=0, poll_interval_s=3.0)
    event = _first_event(trigger, timeout=120)

    assert event["status"] == "ready" and event["reached_end"] is False
    assert event["changes"] == 2000, "one cycle carries every transaction committed before it started"
    # no upper bound: past the backlog it reads on over the other tests' writes to the shared MariaDB (the
    # real-scheduler suite runs beside this one), as it should; the 2,000 changes are this table's only
    assert _key(event["end"]) > _key(start)
