"""
Faults of the obbinlog double, on a PRIVATE double fed by a PRIVATE MariaDB (this file starts and stops both; never
the shared services): restarted while the trigger waits on its long-lived blocking dump and while the worker reads
a range, and a checkpoint whose file it purged. The double restarts from its saved state
(`devservices/obbinlog/store.py`) with the same files and port; the product must resume with nothing lost and
nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pymysql
import pytest
from airflow.sdk.exceptions import TaskDeferred

import devservices
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from airflow_provider_obkafka.triggers.incremental_sync import IncrementalSyncTrigger
from devservices.mariadb import MariadbService
from devservices.obbinlog import ObbinlogService
from tests.integration.incremental_helpers import incremental_project
from tests.integration.private_services import Private, _state_root
from tests.integration.sources import Source
from tests.integration.test_incremental_faults import _exactly_once, _wait_written

ROWS = 150_000  # a range the worker cannot finish before the double is down (50,000 took it 1 s in CI)
CONN_ID = "obbinlog"


@pytest.fixture(scope="module")
def private_double(tmp_path_factory):
    """A private double (and the private MariaDB it tails, started with it under the same state root)."""
    root = tmp_path_factory.mktemp("private-obbinlog")
    double = Private(ObbinlogService(), root)
    with _state_root(root):
        mariadb = MariadbService().ensure_running()
    yield double, Source("obbinlog", mariadb, double.info)
    double.stop()
    with _state_root(root):
        MariadbService().stop()


@pytest.fixture
def private(private_double, kafka_service, monkeypatch, unique_name):
    """Connection `obbinlog` (SQL on the private MariaDB, binlog on the private double), Kafka, a table `t`."""
    double, source = private_double
    env = devservices.airflow_env(kafka=kafka_service, mariadb=source.mariadb, obbinlog=double.info)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    db = unique_name("db")
    with contextlib.closing(_connect(source)) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, payload VARCHAR(255))")
    return double, source, db


def _connect(source: Source) -> pymysql.connections.Connection:
    return pymysql.connect(host=source.mariadb.host, port=source.mariadb.port, user="root", autocommit=True)


def _run(source: Source, *statements: str) -> None:
    with contextlib.closing(_connect(source)) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def _restart(double: Private) -> None:
    double.stop()
    asyncio.run(asyncio.sleep(2.0))
    double.start()


def test_restart_while_the_trigger_waits_resumes_with_nothing_lost(private, capfd):
    double, source, db = private
    start = source.position().model_dump(mode="json")
    _run(source, "BEGIN", *[f"INSERT INTO {db}.t VALUES ({i}, 'first')" for i in range(1, 4)], "COMMIT")
    trigger = IncrementalSyncTrigger(ob_conn_id=CONN_ID, server_id=6161, position=start, tables=[f"{db}.t"],
                                     batch_size=8, max_wait_s=120, poll_interval_s=0.2)  # fmt: skip

    async def scenario() -> dict:
        waiting = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(1.5)  # the trigger has read the first 3 changes on its blocking dump
        assert not waiting.done()
        await asyncio.to_thread(_restart, double)
        second = [f"INSERT INTO {db}.t VALUES ({i}, 'second')" for i in range(4, 9)]
        await asyncio.to_thread(_run, source, "BEGIN", *second, "COMMIT")
        return (await asyncio.wait_for(waiting, 90)).payload

    event = asyncio.run(scenario())
    logged = "".join(capfd.readouterr())
    assert event["status"] == "ready" and event["start"] == start
    assert event["changes"] == 8, "3 before the restart, 5 after: none lost, none counted twice"
    assert f"change log at {double.info.host}:{double.info.port} unreachable" in logged

    project = incremental_project(db, conn_id=CONN_ID)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    with contextlib.suppress(TaskDeferred):  # the batch was full: it defers for the next one
        IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    _exactly_once(f"{db}.t", 8)


def test_restart_while_the_worker_reads_a_range_is_retried_exactly_once(private, capfd):
    double, source, db = private
    project = incremental_project(db, conn_id=CONN_ID)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    start = source.position().model_dump(mode="json")
    for lo in range(1, ROWS, 10_000):  # transactions of 10,000 rows events each: a Kafka transaction each
        _run(source, f"INSERT INTO {db}.t SELECT seq, CONCAT(seq, REPEAT('x', 200)) FROM {db}.seq_{lo}_to_{lo + 9_999}")
    end = source.position().model_dump(mode="json")
    event = {"status": "ready", "start": start, "end": end, "changes": ROWS, "reached_end": True}
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=10_000)

    async def scenario() -> dict:
        producing = asyncio.ensure_future(asyncio.to_thread(operator.execute_complete, {}, event))
        await asyncio.to_thread(_wait_written, f"{db}.t", lambda: not producing.done())
        await asyncio.to_thread(_restart, double)
        return await asyncio.wait_for(producing, 300)

    result = asyncio.run(scenario())
    logged = "".join(capfd.readouterr())
    assert result["changes"] == ROWS
    assert f"change log at {double.info.host}:{double.info.port} unreachable" in logged, (
        "the restart came while the range was read"
    )
    _exactly_once(f"{db}.t", ROWS)
    assert Path(double.info.data_dir, "state.json").exists()


def test_a_purged_position_on_the_double_is_a_clear_error_not_retried(private):
    """obbinlog's 1236 for a purged file (`check_start_file`) ends the trigger at once, naming the position."""
    double, source, db = private
    old = source.position()
    _run(source, f"INSERT INTO {db}.t VALUES (1, REPEAT('x', 200))")
    while source.position().file == old.file:  # on to a later file (64 KiB each)
        _run(source, f"INSERT INTO {db}.t SELECT seq, REPEAT('y', 200) FROM {db}.seq_2_to_400 "
                     "ON DUPLICATE KEY UPDATE payload = REPEAT('z', 200)")  # fmt: skip
    newest = source.position().file
    with contextlib.closing(pymysql.connect(host=double.info.host, port=double.info.port, user="root")) as conn:
        conn.cursor().execute(f"PURGE BINARY LOGS TO '{newest}'")
    trigger = IncrementalSyncTrigger(ob_conn_id=CONN_ID, server_id=6262, position=old.model_dump(mode="json"),
                                     tables=[f"{db}.t"], poll_interval_s=0.2)  # fmt: skip
    event = asyncio.run(asyncio.wait_for(trigger.run().__anext__(), 30)).payload
    assert event["status"] == "error" and event["fatal"] is True, event
    assert f"the change log no longer holds {old.file}:{old.position}" in event["message"]
    assert "Could not find first log file name in binary log index file" in event["message"], (
        "obbinlog's own text for a purged file"
    )
