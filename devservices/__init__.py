"""Start and stop the real local services (Kafka KRaft, seekdb, MariaDB) used by tests, demo and benchmarks,
and on demand the real-Airflow harness (PostgreSQL and Airflow's scheduler, dag-processor, triggerer, API server).

Not part of the wheel. State lives under ``$OBKAFKA_STATE_DIR`` (default ``<repo>/.services``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from devservices.airflow import AirflowService
from devservices.base import ServiceError, ServiceInfo, state_root
from devservices.kafka import KafkaService, fetch_kafka
from devservices.mariadb import MariadbService
from devservices.obbinlog import ObbinlogService
from devservices.postgres import PostgresService
from devservices.seekdb import SeekdbService

if TYPE_CHECKING:
    from collections.abc import Iterable

    from devservices.service import Service

__all__ = [
    "DEFAULT_NAMES",
    "NAMES",
    "OVERRIDE_ENV",
    "ServiceError",
    "ServiceInfo",
    "airflow_env",
    "ensure_running",
    "external",
    "fetch_kafka",
    "info",
    "resolve_names",
    "service",
    "state_root",
    "stop",
]

SERVICES: dict[str, type[Service]] = {
    "kafka": KafkaService,
    "seekdb": SeekdbService,
    "mariadb": MariadbService,
    "obbinlog": ObbinlogService,
    "postgres": PostgresService,
    "airflow": AirflowService,
}
NAMES: tuple[str, ...] = tuple(SERVICES)
# What `start` starts when no names are given; the Airflow harness (and its PostgreSQL) start on demand
# (`start --only airflow`, or the tests/scheduler fixtures). `stop` stops them all, Airflow before PostgreSQL.
DEFAULT_NAMES: tuple[str, ...] = ("kafka", "seekdb", "mariadb")
OVERRIDE_ENV = {
    "kafka": "OBKAFKA_TEST_KAFKA_BOOTSTRAP",
    "seekdb": "OBKAFKA_TEST_SEEKDB",
    "mariadb": "OBKAFKA_TEST_MARIADB",
    "obbinlog": "OBKAFKA_TEST_OBBINLOG",
}


def service(name: str) -> Service:
    """Return the Service object for ``name``."""
    try:
        return SERVICES[name]()
    except KeyError:
        raise ServiceError(f"unknown service {name!r}; known: {', '.join(NAMES)}") from None


def resolve_names(names: Iterable[str] | None, default: Iterable[str] = NAMES) -> list[str]:
    """Return the requested names (``default`` when None), validated, in canonical order."""
    wanted = list(default) if names is None else [n.strip() for n in names if n.strip()]
    for name in wanted:
        service(name)
    return [n for n in NAMES if n in wanted]


def ensure_running(names: Iterable[str] | None = None) -> dict[str, ServiceInfo]:
    """Start each named service (default: DEFAULT_NAMES) unless it already runs; return where each answers."""
    return {name: service(name).ensure_running() for name in resolve_names(names, DEFAULT_NAMES)}


def stop(names: Iterable[str] | None = None) -> dict[str, bool]:
    """Stop each named service; return whether each was running."""
    return {name: service(name).stop() for name in reversed(resolve_names(names))}


def info(name: str) -> ServiceInfo | None:
    """Return where ``name`` answers, or None when it is not running."""
    return service(name).info()


def external(name: str) -> ServiceInfo | None:
    """Return the service given by its ``OBKAFKA_TEST_*`` override (an existing server), if set."""
    if name not in OVERRIDE_ENV:
        return None
    value = os.environ.get(OVERRIDE_ENV[name], "").strip()
    if not value:
        return None
    first = value.split(",")[0]
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise ServiceError(f"{OVERRIDE_ENV[name]}={value!r}: expected host:port")
    servers = value if name == "kafka" else None
    return ServiceInfo(name=name, host=host, port=int(port), started_by_us=False, servers=servers)


def _conn(conn_type: str, **fields: object) -> str:
    """Return an Airflow connection as a JSON string."""
    return json.dumps({"conn_type": conn_type, **fields})


def airflow_env(
    kafka: ServiceInfo | None = None,
    seekdb: ServiceInfo | None = None,
    mariadb: ServiceInfo | None = None,
    obbinlog: ServiceInfo | None = None,
) -> dict[str, str]:
    """Return the environment variables (plain and Airflow connections) describing the given services."""
    env: dict[str, str] = {}
    if kafka is not None:
        env["OBKAFKA_KAFKA_BOOTSTRAP"] = kafka.bootstrap
        env["AIRFLOW_CONN_KAFKA_DEFAULT"] = _conn("kafka", extra={"bootstrap.servers": kafka.bootstrap})
    if seekdb is not None:
        env["OBKAFKA_SEEKDB_HOST"], env["OBKAFKA_SEEKDB_PORT"] = seekdb.host, str(seekdb.port)
        env["AIRFLOW_CONN_OCEANBASE_DEFAULT"] = _conn(
            "oceanbase", host=seekdb.host, port=seekdb.port, login="root"
        )
    if mariadb is not None:
        env["OBKAFKA_MARIADB_HOST"], env["OBKAFKA_MARIADB_PORT"] = mariadb.host, str(mariadb.port)
        env["AIRFLOW_CONN_MARIADB_BINLOG"] = _conn(
            "oceanbase", host=mariadb.host, port=mariadb.port, login="root"
        )
    if obbinlog is not None:
        env["OBKAFKA_OBBINLOG_HOST"], env["OBKAFKA_OBBINLOG_PORT"] = obbinlog.host, str(obbinlog.port)
        if mariadb is not None:  # SQL on MariaDB (the double's source), binlog on the double
            extra = {"binlog_host": obbinlog.host, "binlog_port": obbinlog.port}
            env["AIRFLOW_CONN_OBBINLOG"] = _conn(
                "oceanbase", host=mariadb.host, port=mariadb.port, login="root", extra=extra
            )
    return env
