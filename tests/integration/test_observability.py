"""
Observability under `dag.test()`: metrics through Airflow's `Stats` reach a real StatsD listener (a UDP socket of
this process, set as `[metrics] statsd_host`/`statsd_port`), runs work with metrics off, and a long incremental
range logs one summary line at INFO, each Kafka transaction at DEBUG.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest

from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators._project import ensure_checkpoint_topic, project_arg
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.dag_files import _write_and_load, write_full_sync_dag
from tests.integration.incremental_helpers import incremental_project
from tests.statsd_listener import StatsdListener

if TYPE_CHECKING:
    from collections.abc import Iterator

INCREMENTAL_DAG = """
import json

import pendulum
from airflow.sdk import DAG

from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

PROJECT = json.loads({project!r})

with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False) as dag:
    schema_sync = SchemaSyncOperator(task_id="schema_sync", project=PROJECT)
    incremental = IncrementalSyncOperator(
        task_id="incremental_sync", project=PROJECT, batch_size={batch_size}, max_wait_s=1.0, poll_interval_s=0.2,
        defer_hold_s=0,
    )
    schema_sync >> incremental
"""


def _set_up_stats() -> None:
    """Set Airflow's task-SDK `Stats` up from `[metrics]` now, as importing the SDK does in a new process."""
    from airflow.sdk.configuration import conf
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory
    from airflow.sdk.observability.stats import Stats

    Stats.initialize(factory=get_stats_factory(), export_legacy_names=conf.getboolean("metrics", "legacy_names_on"))


@pytest.fixture
def statsd() -> Iterator[StatsdListener]:
    """
    A StatsD listener, and Airflow's `[metrics]` pointed at it. A process started with this configuration has
    its `Stats` set up from it when the task SDK is imported; this one was started before, so the fixture
    sets `Stats` up again (and back to the configuration without StatsD after the test).
    """
    listener = StatsdListener()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
        patch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
        patch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.port))
        patch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
        _set_up_stats()
        yield listener
    _set_up_stats()
    listener.close()


def _full_project(db: str) -> dict:
    return {"name": db, "sync_types": ["schema", "full"],
            "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": f"{db}.orders"}}]}


def _fill(cur, db: str, rows: int) -> None:
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, note VARCHAR(20))")
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s)", [(i, f"n{i}") for i in range(rows)])


def test_full_sync_chunks_send_rows_rate_and_time_to_statsd(airflow_db, airflow_conn_env, seekdb_database, statsd):
    db, conn = seekdb_database
    _fill(conn.cursor(), db, 2_000)
    project = parse_project(_full_project(db))
    dag = write_full_sync_dag(airflow_db, f"metrics_full_{project.slug}", project, 500)
    assert str(dag.test().state) == "success"

    base = f"airflow.obkafka.full.{{}}.{project.slug}"
    rows = statsd.wait_for(base.format("rows"), 4)
    assert len(rows) == 4 and {kind for _, kind in rows} == {"c"}, "one counter per chunk"
    assert sum(value for value, _ in rows) == 2_000, "every row counted once"
    times = statsd.wait_for(base.format("chunk_time"), 4)
    assert len(times) == 4 and all(kind == "ms" and value > 0 for value, kind in times)
    rates = statsd.wait_for(base.format("rows_per_s"), 4)
    assert len(rates) == 4 and all(kind == "g" and value > 0 for value, kind in rates)


def test_full_sync_runs_with_metrics_off(airflow_db, airflow_conn_env, seekdb_database, monkeypatch):
    listener = StatsdListener()  # listening where StatsD would be sent, but metrics are off
    try:
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "False")
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.port))
        _set_up_stats()
        db, conn = seekdb_database
        _fill(conn.cursor(), db, 300)
        project = parse_project(_full_project(db))
        dag = write_full_sync_dag(airflow_db, f"metrics_off_{project.slug}", project, 100)
        assert str(dag.test().state) == "success"
        threading.Event().wait(1.0)
        assert not listener.lines, "metrics off: nothing sent"
    finally:
        listener.close()


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_incremental_ranges_send_rows_lag_and_cycle_time(airflow_db, airflow_conn_env, source, mariadb_database, statsd):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    project = incremental_project(db, ["orders"], conn_id=source.conn_id)
    text = INCREMENTAL_DAG.format(project=json.dumps(project_arg(project)), dag_id=f"metrics_inc_{project.slug}",
                                  batch_size=100)  # fmt: skip
    dag = _write_and_load(airflow_db, f"metrics_inc_{project.slug}", text)
    assert str(dag.test().state) == "success"  # the first run records where the log is now

    for start in range(0, 100, 20):  # 5 transactions of 20 rows
        cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, 'NEW')", [(i,) for i in range(start, start + 20)])
    source.caught_up()
    assert str(dag.test().state) == "success"

    base = f"airflow.obkafka.incremental.{{}}.{project.slug}"
    rows = statsd.wait_for(base.format("rows"), 1)
    assert sum(value for value, _ in rows) == 100 and {kind for _, kind in rows} == {"c"}, rows
    lags = statsd.wait_for(base.format("lag_s"), 1)
    assert lags and all(kind == "g" and 0 <= value < 600 for value, kind in lags), lags
    assert [value for value, _ in statsd.wait_for(base.format("checkpoint_age_s"), 1)][-1] == 0
    cycles = statsd.wait_for(base.format("cycle_time"), 1)
    assert cycles and all(kind == "ms" and value > 0 for value, kind in cycles)
    rates = statsd.wait_for(base.format("rows_per_s"), 1)
    assert rates and all(kind == "g" for _, kind in rates)


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_a_streaming_worker_logs_a_summary_not_a_line_per_transaction(
    airflow_conn_env, source, mariadb_database, mariadb_conn, statsd, caplog
):
    """
    A continuous task that keeps streaming on its worker (`idle_before_defer_s`) while a writer commits 30
    transactions: at INFO one summary line (changes, rate, lag, checkpoint), each Kafka transaction at DEBUG;
    once caught up, lag 0 and the checkpoint's age go to StatsD.
    """
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    project = incremental_project(db, ["orders"], conn_id=source.conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})  # the topics
    ensure_checkpoint_topic(project, KafkaHook(kafka_config_id=project.destination.conn_id))
    start = source.position().model_dump(mode="json")
    operator = IncrementalSyncOperator(task_id="incremental_sync", project=project, batch_size=10, max_wait_s=0.5,
                                       continuous=True, idle_before_defer_s=4.0, summary_every_s=3600)  # fmt: skip

    written: list[float] = []  # when each transaction was committed (autocommit)

    def write() -> None:
        with mariadb_conn() as own, own.cursor() as writer:
            for n in range(30):
                writer.execute(f"INSERT INTO {db}.orders VALUES (%s, 'NEW'), (%s, 'NEW')", (2 * n, 2 * n + 1))
                written.append(time.time())
                threading.Event().wait(0.1)

    writer = threading.Thread(target=write)
    with caplog.at_level(logging.DEBUG):
        writer.start()
        with pytest.raises(TaskDeferred):  # streamed until idle, then deferred to the trigger
            operator.execute_complete({}, {"status": "ready", "start": start, "end": start})
        writer.join()

    mine = [r for r in caplog.records if r.getMessage().startswith(f"incremental sync of {project.slug}:")]
    batches = [r.getMessage() for r in mine if r.levelno == logging.DEBUG]
    summaries = [r.getMessage() for r in mine if r.levelno == logging.INFO]
    assert len(batches) >= 3, "each Kafka transaction at DEBUG"
    assert len(summaries) == 1, summaries
    assert "60 changes" in summaries[0] and "60 in all" in summaries[0] and "lag" in summaries[0], summaries
    assert "checkpoint" in summaries[0] and summaries[0].endswith(", idle")
    per_transaction = [r.getMessage() for r in caplog.records
                       if r.levelno >= logging.INFO and "changes committed" in r.getMessage()]  # fmt: skip
    assert not per_transaction, f"no INFO line per Kafka transaction: {per_transaction[:3]}"

    base = f"airflow.obkafka.incremental.{{}}.{project.slug}"
    assert sum(value for value, _ in statsd.wait_for(base.format("rows"), 3)) == 60
    lags = [value for value, _ in statsd.wait_for(base.format("lag_s"), 1)]
    # read to the end after the writer stopped: 0, or (other writers on a shared server) the age of a commit
    # read after ours, never older than our last one (commit times are whole seconds on MariaDB: + 1 s)
    assert lags[-1] <= time.time() - written[-1] + 1, lags
    ages = [value for value, _ in statsd.wait_for(base.format("checkpoint_age_s"), 2)]
    assert max(ages) > 0, "the checkpoint ages while the log is quiet"
