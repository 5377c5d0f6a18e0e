"""The local services answer, are reused when running, and leave nothing behind when stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from devservices import ServiceInfo

REPO = Path(__file__).resolve().parents[2]


def test_kafka_creates_and_lists_topic(kafka_service: ServiceInfo, unique_name: Callable[..., str]) -> None:
    """A topic with 3 partitions can be created and is listed with 3 partitions."""
    admin = AdminClient({"bootstrap.servers": kafka_service.bootstrap})
    topic = unique_name("svc_topic")
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)
    try:
        deadline = time.monotonic() + 15
        while topic not in (meta := admin.list_topics(timeout=10)).topics and time.monotonic() < deadline:
            time.sleep(0.2)
        assert topic in meta.topics
        assert len(meta.topics[topic].partitions) == 3
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)


def test_seekdb_answers(seekdb_conn: Callable) -> None:
    """seekdb gives an integer SCN and runs in +08:00."""
    with seekdb_conn().cursor() as cur:
        cur.execute("SELECT current_scn()")
        (scn,) = cur.fetchone()
        cur.execute("SELECT @@time_zone")
        (time_zone,) = cur.fetchone()
    assert isinstance(scn, int)
    assert scn > 0
    assert time_zone == "+08:00"


def _master_position(cur) -> tuple[str, int]:  # noqa: ANN001 - a pymysql cursor
    """Return (binlog file, position) from SHOW MASTER STATUS."""
    cur.execute("SHOW MASTER STATUS")
    row = cur.fetchone()
    assert row is not None, "binary logging is off"
    return row[0], int(row[1])


def test_mariadb_binlog(mariadb_conn: Callable, unique_name: Callable[..., str]) -> None:
    """MariaDB writes a ROW/FULL binlog and a write moves the binlog position."""
    db = unique_name("svc_db")
    with mariadb_conn().cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'binlog_format'")
        assert cur.fetchone()[1] == "ROW"
        cur.execute("SHOW VARIABLES LIKE 'binlog_row_image'")
        assert cur.fetchone()[1] == "FULL"
        before = _master_position(cur)
        assert before[0]
        try:
            cur.execute(f"CREATE DATABASE `{db}`")
            cur.execute(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20))")
            cur.execute(f"INSERT INTO `{db}`.t VALUES (1, 'a'), (2, 'b')")
            after = _master_position(cur)
        finally:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    assert after != before
    assert after[0] > before[0] or after[1] > before[1]


def _cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m devservices ARGS`` with its own state folder."""
    env = {**os.environ, "OBKAFKA_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "devservices", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _line(output: str, name: str) -> list[str]:
    """Return the whitespace-split line of the CLI output that starts with ``name``."""
    lines = [line.split() for line in output.splitlines() if line.startswith(name)]
    assert len(lines) == 1, output
    return lines[0]


def _our_processes(state_dir: Path) -> list[psutil.Process]:
    """Return the live processes whose command line mentions ``state_dir``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and str(state_dir) in " ".join(
            proc.info["cmdline"] or ()
        ):
            found.append(proc)
    return found


@pytest.fixture
def private_state(tmp_path: Path) -> Iterator[Path]:
    """A separate state folder; whatever runs in it is stopped at the end."""
    state = tmp_path / "state"
    yield state
    _cli(state, "stop")


@pytest.mark.timeout(180)
def test_start_twice_reuses(private_state: Path) -> None:
    """A second ``start`` reports "already running" with the same pid and port."""
    first = _cli(private_state, "start", "--only", "mariadb")
    assert first.returncode == 0, first.stderr
    assert "started" in first.stdout
    second = _cli(private_state, "start", "--only", "mariadb")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    one, two = _line(first.stdout, "mariadb"), _line(second.stdout, "mariadb")
    assert one[1:4] == two[1:4]  # address, "pid", pid


@pytest.mark.timeout(180)
def test_stop_leaves_nothing_and_restart_reuses_port(private_state: Path) -> None:
    """``stop`` kills the service's processes, is idempotent, and a restart keeps the port."""
    started = _cli(private_state, "start", "--only", "mariadb")
    assert started.returncode == 0, started.stderr
    address, pid = _line(started.stdout, "mariadb")[1], int(_line(started.stdout, "mariadb")[3])
    assert _our_processes(private_state)

    stopped = _cli(private_state, "stop", "--only", "mariadb")
    assert stopped.returncode == 0, stopped.stderr
    assert _line(stopped.stdout, "mariadb")[1] == "stopped"
    assert not _our_processes(private_state)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "not running" in _cli(private_state, "stop", "--only", "mariadb").stdout
    assert _line(_cli(private_state, "status", "--only", "mariadb").stdout, "mariadb")[1] == "stopped"

    restarted = _cli(private_state, "start", "--only", "mariadb")
    assert restarted.returncode == 0, restarted.stderr
    assert _line(restarted.stdout, "mariadb")[1] == address
    _cli(private_state, "stop", "--only", "mariadb")
    assert not _our_processes(private_state)


def test_kafka_cluster_ids_starting_with_a_dash_format(tmp_path, monkeypatch):
    """A base64url cluster id can start with '-'; the storage tool must not read it as an option."""
    from devservices import kafka

    monkeypatch.setenv("OBKAFKA_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(kafka, "new_cluster_id", lambda: "-" + "A" * 21)
    service = kafka.KafkaService()
    service.data_dir.mkdir(parents=True)
    service.prepare({"port": 19092, "controller_port": 19093})
    meta = (service.data_dir / "meta.properties").read_text()
    assert "cluster.id=-AAAAAAAAAAAAAAAAAAAAA" in meta
