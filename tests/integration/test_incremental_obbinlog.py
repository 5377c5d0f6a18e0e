"""Issue 13's reproduction: incremental sync through Airflow from the obbinlog test double, across rotations.

The double (``devservices/obbinlog``) serves MariaDB's writes as the OceanBase Binlog Service serves them. Its
files rotate at ``OBKAFKA_OBBINLOG_MAX_SIZE`` (64 KiB by default), so the workload below spans several files.
Every change must reach Kafka exactly once, as it does from MariaDB (``test_incremental_sync.py``).

This test FAILS on the product as it is, for two reasons met in this order:

1. obbinlog stores each FORMAT_DESCRIPTION with the in-use flag set and a CRC32 computed with it cleared, and
   sends it as stored (``FormatDescriptionEvent::flush_to_buff``, ``BinlogDumper::seek_event``); the
   reader checks every CRC32 as is and stops: "binlog event of type 15 ... fails its CRC32 check".
2. Past that (seen with the check relaxed for that flag, not committed): obbinlog answers a non-blocking
   dump (flags exactly 1) with the rest of ONE file, then EOF (``BinlogDumper::run``). The trigger scans
   only with non-blocking dumps, so it sees the first file's changes, takes the EOF for the end of the log
   (``reached_end=True``) and never reads the next files: changes are lost without an error.
"""

from __future__ import annotations

import json
import time

import pytest

import devservices
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from tests.integration.dag_files import write_incremental_dag
from tests.integration.incremental_helpers import incremental_project

ROWS, PER_TRANSACTION, BLOB = 400, 4, 600
CONN_ID = "obbinlog"


@pytest.fixture
def obbinlog_env(monkeypatch, kafka_service, mariadb_service, obbinlog_service) -> None:
    """``AIRFLOW_CONN_OBBINLOG`` (SQL on MariaDB, binlog on the double) and the Kafka connection."""
    env = devservices.airflow_env(kafka=kafka_service, mariadb=mariadb_service, obbinlog=obbinlog_service)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _files(port: int) -> list[str]:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="")
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        names = [row[0] for row in cur.fetchall()]
    conn.close()
    return names


def test_every_change_once_across_rotations(airflow_db, obbinlog_env, obbinlog_service, mariadb_database):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, b BLOB)")
    project = incremental_project(db, ["t"], conn_id=CONN_ID)
    dag = write_incremental_dag(airflow_db, f"inc_{project.slug}", project)
    assert str(dag.test().state) == "success"  # first run: starts now on the double, records the checkpoint

    files_before = _files(obbinlog_service.port)
    for first in range(0, ROWS, PER_TRANSACTION):
        rows = [(i, bytes([i % 251]) * BLOB) for i in range(first, first + PER_TRANSACTION)]
        cur.executemany(f"INSERT INTO {db}.t VALUES (%s, %s)", rows)
    cur.execute(f"UPDATE {db}.t SET b = NULL WHERE id < 10")
    cur.execute(f"DELETE FROM {db}.t WHERE id >= {ROWS - 10}")
    deadline = time.monotonic() + 30  # the double converts as MariaDB commits; give it time to catch up
    while len(set(_files(obbinlog_service.port)) - set(files_before)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    files_after = _files(obbinlog_service.port)
    assert len(set(files_after) - set(files_before)) >= 3, "the workload must cross at least 3 rotations"

    assert str(dag.test().state) == "success"

    messages = KafkaHook().read_committed(f"{db}.t", timeout=60)
    got = sorted((int(m.key()), json.loads(m.value())["recordType"]) for m in messages)
    expected = sorted(
        [(i, "INSERT") for i in range(ROWS)] + [(i, "UPDATE") for i in range(10)]
        + [(i, "DELETE") for i in range(ROWS - 10, ROWS)]
    )  # fmt: skip
    assert len(got) == len(expected), f"{len(got)} messages delivered for {len(expected)} changes"
    assert got == expected, "each change exactly once"
