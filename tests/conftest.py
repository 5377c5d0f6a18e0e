"""Shared fixtures: the real local services (started on demand), unique names, connections, Airflow env."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql
import pytest

import devservices
from devservices import ServiceError, ServiceInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.integration.sources import Source

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"
SCHEDULER_DIR = Path(__file__).resolve().parent / "scheduler"

# Airflow reads its home and metadata database when first imported: point it at a private folder before
# any test imports it, so tests never touch a user's ~/airflow. `airflow_db` creates the database.
AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="obkafka-airflow-"))
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_TEST_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(AIRFLOW_TEST_HOME / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
(AIRFLOW_TEST_HOME / "dags").mkdir()
atexit.register(shutil.rmtree, AIRFLOW_TEST_HOME, ignore_errors=True)
SERVICE_FIXTURES = {
    "kafka_service", "seekdb_service", "mariadb_service", "obbinlog_service", "airflow_conn_env", "source",
}  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests under tests/scheduler as ``scheduler``; under tests/integration, or using a service fixture, as
    ``integration``."""
    for item in items:
        parents = Path(str(item.path)).resolve().parents
        if SCHEDULER_DIR in parents:
            item.add_marker(pytest.mark.scheduler)
            continue
        in_integration = INTEGRATION_DIR in parents
        uses_service = bool(SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())))
        if in_integration or uses_service:
            item.add_marker(pytest.mark.integration)


def _service(name: str) -> Iterator[ServiceInfo]:
    """Yield the service ``name`` (override or devservices); stop it at the end only if started here."""
    try:
        info = devservices.external(name) or devservices.ensure_running([name])[name]
    except ServiceError as exc:
        pytest.fail(f"local service {name!r} is not available:\n{exc}", pytrace=False)
    yield info
    if info.started_by_us:
        devservices.stop([name])


@pytest.fixture(scope="session")
def kafka_service() -> Iterator[ServiceInfo]:
    """The Kafka broker (``.bootstrap`` gives the bootstrap servers)."""
    yield from _service("kafka")


@pytest.fixture(scope="session")
def seekdb_service() -> Iterator[ServiceInfo]:
    """The seekdb (OceanBase) server, MySQL protocol, user root without password."""
    yield from _service("seekdb")


@pytest.fixture(scope="session")
def mariadb_service() -> Iterator[ServiceInfo]:
    """The MariaDB server with a ROW binlog, user root without password."""
    yield from _service("mariadb")


@pytest.fixture(scope="session")
def obbinlog_service(mariadb_service: ServiceInfo) -> Iterator[ServiceInfo]:
    """The OceanBase Binlog Service test double (devservices/obbinlog), fed by MariaDB's binlog."""
    yield from _service("obbinlog")


@pytest.fixture(params=["mariadb", "obbinlog"])
def source(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, mariadb_service: ServiceInfo) -> Source:
    """
    The change log the test reads, once per source (``tests/integration/sources.py``): MariaDB's binlog
    (connection ``mariadb_binlog``) and the obbinlog double (connection ``obbinlog``, SQL on the same MariaDB).
    Sets both connections (and ``OBKAFKA_*``) in the environment; Kafka only through ``airflow_conn_env``.
    """
    endpoint = mariadb_service
    if request.param == "obbinlog":
        endpoint = request.getfixturevalue("obbinlog_service")
    env = devservices.airflow_env(
        mariadb=mariadb_service, obbinlog=endpoint if request.param == "obbinlog" else None
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from tests.integration.sources import Source  # imports Airflow: only after AIRFLOW_HOME is set

    return Source(request.param, mariadb_service, endpoint)


@pytest.fixture
def unique_name() -> Callable[..., str]:
    """Return a factory of unique names safe for databases, tables and topics: ``prefix_<10 hex>``."""

    def make(prefix: str = "t") -> str:
        clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower()) or "t"
        return f"{clean}_{uuid.uuid4().hex[:10]}"

    return make


def _connection_factory(info: ServiceInfo) -> Iterator[Callable[..., pymysql.connections.Connection]]:
    """Yield a pymysql connection factory for ``info``; close every connection afterwards."""
    opened: list[pymysql.connections.Connection] = []

    def connect(**kwargs: Any) -> pymysql.connections.Connection:
        params: dict[str, Any] = {
            "host": info.host,
            "port": info.port,
            "user": "root",
            "password": "",
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 10,
        }
        params.update(kwargs)
        conn = pymysql.connect(**params)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        if conn.open:
            conn.close()


@pytest.fixture
def seekdb_conn(seekdb_service: ServiceInfo) -> Iterator[Callable[..., pymysql.connections.Connection]]:
    """Factory of pymysql connections to seekdb (root, autocommit); kwargs override; closed after."""
    yield from _connection_factory(seekdb_service)


@pytest.fixture
def mariadb_conn(mariadb_service: ServiceInfo) -> Iterator[Callable[..., pymysql.connections.Connection]]:
    """Factory of pymysql connections to MariaDB (root, autocommit); kwargs override; closed after."""
    yield from _connection_factory(mariadb_service)


@pytest.fixture
def airflow_conn_env(
    monkeypatch: pytest.MonkeyPatch,
    kafka_service: ServiceInfo,
    seekdb_service: ServiceInfo,
    mariadb_service: ServiceInfo,
) -> dict[str, str]:
    """Set ``AIRFLOW_CONN_{OCEANBASE_DEFAULT,MARIADB_BINLOG,KAFKA_DEFAULT}`` (and OBKAFKA_*) for the test."""
    env = devservices.airflow_env(kafka=kafka_service, seekdb=seekdb_service, mariadb=mariadb_service)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database (SQLite) in the private AIRFLOW_HOME; returns the DAGs folder."""
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}", pytrace=False)
    return AIRFLOW_TEST_HOME / "dags"


def _temp_database(connect: Callable[..., pymysql.connections.Connection], name: str) -> Iterator[tuple[str, Any]]:
    """Create database `name`, yield (name, connection), drop it afterwards."""
    conn = connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield name, conn
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def seekdb_database(seekdb_conn, unique_name) -> Iterator[tuple[str, pymysql.connections.Connection]]:
    """A fresh database on seekdb and a root connection; yields (name, connection); dropped afterwards."""
    yield from _temp_database(seekdb_conn, unique_name("db"))


@pytest.fixture
def mariadb_database(mariadb_conn, unique_name) -> Iterator[tuple[str, pymysql.connections.Connection]]:
    """A fresh database on MariaDB and a root connection; yields (name, connection); dropped afterwards."""
    yield from _temp_database(mariadb_conn, unique_name("db"))
