"""
Faults during incremental sync, on PRIVATE services this file starts and stops itself (never the shared ones):
the broker restarting mid-range, the source restarting while the trigger waits and while the worker reads,
and a purged binlog position (a clear error, not retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pymysql
import pytest
from airflow.sdk.exceptions import AirflowFailException
from confluent_kafka import TopicPartition

import devservices
from airflow_provider_obkafka.engine.binlog.seek import earliest_event_time, position_for_timestamp
from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger
from tests.integration.incremental_helpers import incremental_project
from tests.integration.private_services import Private, private_kafka, private_mariadb  # noqa: F401 (fixtures)

ROWS = 100_000
PRIVATE = "private_source"


def _project(db: str, conn_id: str):
    return incremental_project(db, conn_id=conn_id)


@pytest.fixture
def private_source(private_mariadb, monkeypatch, unique_name):
    """Connection `private_source` to the private MariaDB, and a fresh database with table `t` on it."""
    info = private_mariadb.info
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{PRIVATE.upper()}",
        json.dumps({"conn_type": "oceanbase", "host": info.host, "port": info.port, "login": "root"}),
    )
    db = unique_name("db")
    with contextlib.closing(_connect(private_mariadb)) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, payload VARCHAR(255))")
    return db


def _connect(private: Private) -> pymysql.connections.Connection:
    info = private.info
    return pymysql.connect(host=info.host, port=info.port, user="root", password="", autocommit=True)


def _run(private: Private, *statements: str) -> None:
    with contextlib.closing(_connect(private)) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def _purge_to(private: Private, newest: str, gone: str) -> None:
    """PURGE BINARY LOGS TO `newest` until `gone` is no longer listed (MariaDB keeps a file that a binlog
    checkpoint or a dump thread still needs for a moment)."""
    deadline = time.monotonic() + 30
    while True:
        with contextlib.closing(_connect(private)) as conn, conn.cursor() as cur:
            with contextlib.suppress(pymysql.err.MySQLError):  # e.g. "log in use" while a reader ends
                cur.execute(f"PURGE BINARY LOGS TO '{newest}'")
            cur.execute("SHOW BINARY LOGS")
            if gone not in {row[0] for row in cur.fetchall()}:
                return
        assert time.monotonic() < deadline, f"{gone} could not be purged"
        time.sleep(0.5)


def _written(consumer, topic: str) -> bool:
    """True once records (committed or not) are in the topic's log."""
    return any(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1] > 0
               for p in range(3))  # fmt: skip


def _wait_written(topic: str, running) -> None:
    watcher = KafkaHook().read_committed_consumer(**{"isolation.level": "read_uncommitted"})
    deadline = time.monotonic() + 120
    try:
        while not _written(watcher, topic):
            assert running(), "the worker ended before the fault could be injected"
            assert time.monotonic() < deadline, "the worker never wrote to the topic"
            time.sleep(0.05)
    finally:
        watcher.close()


def _exactly_once(topic: str, count: int) -> None:
    ids = [json.loads(m.value())["postStruct"]["id"] for m in KafkaHook().iter_committed(topic, timeout=300)]
    assert len(ids) == count, "nothing lost or duplicated"
    assert sorted(ids) == list(range(1, count + 1)), "every change exactly once"


def _worker_through_broker_outage(private_kafka, mariadb_database, tmp_path, outage: Callable[[], None]) -> str:
    """
    A worker producing ROWS changes (ten source transactions) while `outage()` takes the private broker away
    mid-range; checks it ends well with every change once, and returns its log.
    """
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, payload VARCHAR(40))")
    project = _project(db, "mariadb_binlog")
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    source = OceanBaseHook(ob_conn_id="mariadb_binlog")
    start = source.binlog_position().model_dump(mode="json")
    for lo in range(1, ROWS, 10_000):  # ten transactions: ten Kafka transactions of 10,000 changes
        cur.execute(f"INSERT INTO {db}.t SELECT seq, CONCAT('p-', seq) FROM {db}.seq_{lo}_to_{lo + 9_999}")
    end = source.binlog_position().model_dump(mode="json")
    event = {"status": "ready", "start": start, "end": end, "changes": ROWS, "reached_end": True}
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"project": project_arg(project), "event": event}))
    log_path = tmp_path / "worker.log"

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    script = str(Path(__file__).with_name("incremental_worker.py"))
    with log_path.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, script, str(args)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            _wait_written(f"{db}.t", lambda: worker.poll() is None)
            outage()
            assert worker.wait(300) == 0, log_path.read_text()[-3000:]
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
    result = json.loads(log_path.read_text().strip().splitlines()[-1])
    assert result["changes"] == ROWS
    _exactly_once(f"{db}.t", ROWS)
    return log_path.read_text()


def test_broker_restart_mid_range_loses_and_duplicates_nothing(
    private_kafka, mariadb_service, mariadb_database, monkeypatch, tmp_path
):
    for key, value in devservices.airflow_env(kafka=private_kafka.info, mariadb=mariadb_service).items():
        monkeypatch.setenv(key, value)

    def restart() -> None:
        private_kafka.stop()
        time.sleep(3)
        private_kafka.start()

    _worker_through_broker_outage(private_kafka, mariadb_database, tmp_path, restart)


def test_broker_down_past_the_delivery_timeout_is_retried_by_the_worker(
    private_kafka, mariadb_service, mariadb_database, monkeypatch, tmp_path
):
    """
    The broker hangs (its processes stopped with SIGSTOP, at once: a stop would let it drain what is in
    flight) for 15 s while deliveries time out after 4 s: the transaction fails and the worker's own retry
    path (a new producer, fencing, the checkpoint) resumes.
    """
    for key, value in devservices.airflow_env(kafka=private_kafka.info, mariadb=mariadb_service).items():
        monkeypatch.setenv(key, value)
    extra = {"bootstrap.servers": private_kafka.info.bootstrap, "message.timeout.ms": 4000}
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps({"conn_type": "kafka", "extra": extra}))
    group = os.getpgid(private_kafka.start().pid)

    def hang() -> None:
        os.killpg(group, signal.SIGSTOP)
        try:
            time.sleep(15)
        finally:
            os.killpg(group, signal.SIGCONT)

    logged = _worker_through_broker_outage(private_kafka, mariadb_database, tmp_path, hang)
    assert "Kafka" in logged and "unreachable" in logged, logged[-3000:]
    assert "retrying in" in logged and "(attempt 1)" in logged


def test_source_restart_while_the_trigger_waits_is_retried_and_resumes(
    private_mariadb, private_source, capfd
):
    db = private_source
    start = OceanBaseHook(ob_conn_id=PRIVATE).binlog_position().model_dump(mode="json")
    trigger = IncrementalSyncTrigger(ob_conn_id=PRIVATE, server_id=5151, position=start, tables=[f"{db}.t"],
                                     batch_size=5, max_wait_s=120, poll_interval_s=0.2)  # fmt: skip
    ticks: list[float] = []

    async def scenario() -> dict:
        waiting = asyncio.ensure_future(trigger.run().__anext__())

        async def tick() -> None:
            while not waiting.done():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticker = asyncio.ensure_future(tick())
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private_mariadb.stop)
        await asyncio.sleep(2.0)  # scans fail meanwhile and are retried
        await asyncio.to_thread(private_mariadb.start)
        await asyncio.to_thread(
            _run,
            private_mariadb,
            "BEGIN",
            *[f"INSERT INTO {db}.t VALUES ({i}, 'x')" for i in range(1, 6)],
            "COMMIT",
        )
        event = (await asyncio.wait_for(waiting, 90)).payload
        await ticker
        return event

    event = asyncio.run(scenario())
    logged = "".join(capfd.readouterr())
    assert event["status"] == "ready"
    assert event["changes"] == 5
    assert event["start"] == start
    assert f"change log at {private_mariadb.info.host}:{private_mariadb.info.port} unreachable" in logged
    assert "retrying in" in logged
    assert "(attempt 1)" in logged
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert max(gaps) < 0.25, f"the event loop was blocked for {max(gaps):.3f}s while the source was down"


def _private_project(db: str, kafka_service, monkeypatch):
    """The project of `db` on the private source, its topics created; and the source's hook."""
    for key, value in devservices.airflow_env(kafka=kafka_service).items():
        monkeypatch.setenv(key, value)
    project = _project(db, PRIVATE)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    return project, OceanBaseHook(ob_conn_id=PRIVATE)


def test_source_restart_mid_range_in_the_worker_is_retried(
    private_mariadb, private_source, kafka_service, monkeypatch, capfd
):
    db = private_source
    project, source = _private_project(db, kafka_service, monkeypatch)
    start = source.binlog_position().model_dump(mode="json")
    # about 25 MB of change log: more than the socket buffers hold, so stopping the server interrupts the read
    _run(
        private_mariadb,
        f"INSERT INTO {db}.t SELECT seq, CONCAT(seq, REPEAT('x', 200)) FROM {db}.seq_1_to_{ROWS}",
    )
    end = source.binlog_position().model_dump(mode="json")
    event = {"status": "ready", "start": start, "end": end, "changes": ROWS, "reached_end": True}
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project)

    async def scenario() -> dict:
        producing = asyncio.ensure_future(asyncio.to_thread(operator.execute_complete, {}, event))
        await asyncio.to_thread(_wait_written, f"{db}.t", lambda: not producing.done())
        await asyncio.to_thread(private_mariadb.stop)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(private_mariadb.start)
        return await asyncio.wait_for(producing, 300)

    result = asyncio.run(scenario())
    logged = "".join(capfd.readouterr())
    assert result["changes"] == ROWS
    assert f"change log at {private_mariadb.info.host}:{private_mariadb.info.port} unreachable" in logged
    _exactly_once(f"{db}.t", ROWS)


def test_purged_binlog_position_is_a_clear_error_not_retried(
    private_mariadb, private_source, kafka_service, monkeypatch
):
    db = private_source
    project, source = _private_project(db, kafka_service, monkeypatch)
    old = source.binlog_position()
    _run(private_mariadb, f"INSERT INTO {db}.t VALUES (1, 'x')")
    end = source.binlog_position()
    _run(private_mariadb, "FLUSH BINARY LOGS")
    newest = source.binlog_position().file
    _purge_to(private_mariadb, newest, old.file)

    trigger = IncrementalSyncTrigger(ob_conn_id=PRIVATE, server_id=5252, position=old.model_dump(mode="json"),
                                     tables=[f"{db}.t"], poll_interval_s=0.2)  # fmt: skip
    began = time.monotonic()
    event = asyncio.run(asyncio.wait_for(trigger.run().__anext__(), 30)).payload
    assert time.monotonic() - began < 10, "not retried"
    assert event["status"] == "error"
    assert event["fatal"] is True
    assert f"the change log no longer holds {old.file}:{old.position}" in event["message"]
    assert "full synchronization" in event["message"]

    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project)
    with pytest.raises(AirflowFailException, match="the change log no longer holds"):
        operator.execute_complete({}, event)
    ready = {"status": "ready", "start": old.model_dump(mode="json"), "end": end.model_dump(mode="json"),
             "changes": 1, "reached_end": True}  # fmt: skip
    with pytest.raises(AirflowFailException, match=rf"no longer holds {old.file}:{old.position}.*purged"):
        operator.execute_complete({}, ready)

    settings = source.binlog_connection_settings()
    earliest = earliest_event_time(settings, 5353)
    with pytest.raises(CheckpointError, match=rf"its earliest event is .* in {newest}; choose a later start"):
        position_for_timestamp(settings, 5353, datetime(2020, 1, 1, tzinfo=UTC))
    assert earliest is not None
    assert earliest <= datetime.now(UTC)


def test_a_range_that_ends_at_the_start_of_a_new_file_is_complete(private_mariadb, private_source, airflow_conn_env):
    """
    SHOW MASTER STATUS right after a rotation names the start of a new, empty file (the obbinlog double rotates
    every few kB, so its tests met it: "the change log ended before the reported position x.001187:195"). A
    range to there holds every transaction before the rotation; reading it ends at the idle heartbeat having
    passed the new file's first events, not at a commit: it is complete, not short.
    """
    db = private_source
    project = project_arg(incremental_project(db, conn_id=PRIVATE))
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    hook = OceanBaseHook(ob_conn_id=PRIVATE)
    start = hook.binlog_position()
    _run(private_mariadb, *[f"INSERT INTO {db}.t VALUES ({i}, 'x')" for i in range(1, 4)], "FLUSH BINARY LOGS")
    end = hook.binlog_position()
    assert end.file != start.file and end.position > 4, "a new file, past its first events"
    event = {"status": "ready", "start": start.model_dump(mode="json"), "end": end.model_dump(mode="json"),
             "changes": 3, "reached_end": True}  # fmt: skip
    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    assert result["changes"] == 3
    _exactly_once(f"{db}.t", 3)
