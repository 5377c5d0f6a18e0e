"""
Airflow 3 as users run it, for tests: PostgreSQL metadata database, `airflow scheduler` (LocalExecutor),
`airflow dag-processor`, `airflow triggerer` and `airflow api-server`, on a DAGs folder holding the project's
`dags/obkafka_projects.py`, which reads the project files of ``<state>/airflow/projects``.

The connections are those of the running Kafka, seekdb and MariaDB (their ``OBKAFKA_TEST_*`` overrides, else
the devservices ones, started when needed), given to every process as ``AIRFLOW_CONN_*`` variables. Started
again when those change. Ready once the API server's health endpoint reports every component healthy.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.request
from typing import TYPE_CHECKING

from devservices.airflow_config import airflow_binary, component_env, prepare_folders
from devservices.base import (
    HOST,
    ServiceError,
    locked,
    port_answers,
    process_alive,
    spawn,
    terminate_group,
    write_json,
)
from devservices.postgres import PostgresService, sqlalchemy_url
from devservices.service import Service

if TYPE_CHECKING:
    from pathlib import Path

    from devservices.base import ServiceInfo

log = logging.getLogger(__name__)

# Started in this order, stopped in the reverse one (the API server last: the others report to it).
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEPENDENCIES = ("kafka", "seekdb", "mariadb")
HEALTHY = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class AirflowService(Service):
    """The four long-running Airflow components as one service; its port is the API server's."""

    name = "airflow"
    port_names = ("port", "worker_logs", "trigger_logs", "scheduler_health", "statsd")
    start_timeout = 180.0

    @property
    def data_dir(self) -> Path:
        """The harness' folder: Airflow home, DAGs folder, projects folder, logs."""
        return self.dir

    @property
    def projects_dir(self) -> Path:
        """Where the DAG file reads project files (tests write theirs here)."""
        return self.dir / "projects"

    def component_log(self, component: str) -> Path:
        """The stdout/stderr file of one component."""
        return self.dir / f"{component}.out.log"

    def log_files(self) -> list[Path]:
        """Every component's log, and the last migration's."""
        return [self.dir / "db-migrate.log", *(self.component_log(name) for name in COMPONENTS)]

    # ---- state ----------------------------------------------------------------------------------
    def is_running(self, state: dict | None = None) -> bool:
        """True when every component runs and the API server answers."""
        state = self.state() if state is None else state
        parts = state.get("components") or {}
        alive = all(process_alive(p.get("pid"), p.get("create_time")) for p in parts.values())
        return bool(parts) and alive and port_answers(int(state.get("port") or 0))

    def ensure_running(self) -> ServiceInfo:
        """Start (or restart, when the services' connections changed) the components; where the API answers."""
        connections = self._connections()
        with locked(self.dir / ".lock"):
            state = self.state()
            if self.is_running(state) and state.get("connections") == connections:
                return self._info(state, started_by_us=False)
            self._stop_components(state)
            return self._start_all(state, connections)

    def stop(self) -> bool:
        """Stop every component (PostgreSQL stays: `devservices stop` stops it next)."""
        if not self.state_path.exists():
            return False
        with locked(self.dir / ".lock"):
            return self._stop_components(self.state())

    def _stop_components(self, state: dict) -> bool:
        parts = state.get("components") or {}
        running = False
        for name in reversed(COMPONENTS):
            part = parts.get(name) or {}
            if process_alive(part.get("pid"), part.get("create_time")):
                running = True
                terminate_group(part["pid"], part.get("create_time"))
                log.info("airflow %s stopped (pid %s)", name, part["pid"])
        if running:
            state["stopped_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            write_json(self.state_path, state)
        return running

    def cli_env(self) -> dict[str, str]:
        """The environment for `airflow ...` CLI commands against the running harness (``airflow_binary()``)."""
        state, database = self.state(), PostgresService().info()
        if not self.is_running(state) or database is None:
            raise ServiceError("airflow is not running: python -m devservices start --only airflow")
        url = sqlalchemy_url(database.host, database.port)
        return component_env(self.dir, state["ports"], url, state["connections"])

    # ---- start ----------------------------------------------------------------------------------
    @staticmethod
    def _connections() -> dict[str, str]:
        """The ``AIRFLOW_CONN_*`` (and ``OBKAFKA_*``) variables of Kafka, seekdb and MariaDB."""
        import devservices

        infos = {
            name: devservices.external(name) or devservices.ensure_running([name])[name] for name in DEPENDENCIES
        }
        return devservices.airflow_env(**infos)

    def _start_all(self, old: dict, connections: dict[str, str]) -> ServiceInfo:
        """Migrate the database, spawn the components, wait until all are healthy."""
        t0 = time.monotonic()
        database = PostgresService().ensure_running()
        ports = self._choose_ports(old)
        prepare_folders(self.dir)
        env = component_env(self.dir, ports, sqlalchemy_url(database.host, database.port), connections)
        self._migrate(env)
        state = {"name": self.name, "host": HOST, "port": ports["port"], "ports": ports,
                 "connections": connections, "components": {}, "data_dir": str(self.dir),
                 "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
        for component in COMPONENTS:
            proc = spawn([*airflow_binary(), component], self.component_log(component), cwd=self.dir, env=env)
            state["components"][component] = {"pid": proc.pid, "create_time": proc.create_time()}
        state["pid"], state["create_time"] = (state["components"]["api-server"][k] for k in ("pid", "create_time"))
        write_json(self.state_path, state)
        try:
            self._wait_healthy(state)
        except BaseException:
            self._stop_components(state)
            raise
        state["ready_after_s"] = round(time.monotonic() - t0, 2)
        write_json(self.state_path, state)
        log.info("airflow started, API on %s:%s, in %.1f s", HOST, ports["port"], state["ready_after_s"])
        return self._info(state, started_by_us=True)

    def _migrate(self, env: dict[str, str]) -> None:
        """`airflow db migrate` (creates or upgrades the metadata schema; quick when up to date)."""
        out = self.dir / "db-migrate.log"
        with out.open("wb") as fh:
            proc = subprocess.run(  # noqa: S603 - a fixed command
                [*airflow_binary(), "db", "migrate"], env=env, cwd=self.dir, stdout=fh, stderr=subprocess.STDOUT,
                check=False, timeout=600,
            )  # fmt: skip
        if proc.returncode != 0:
            raise ServiceError(self._failure(f"airflow db migrate failed (exit code {proc.returncode})"))

    def _wait_healthy(self, state: dict) -> None:
        """Poll `/api/v2/monitor/health` until every component is healthy; fail when a process exits."""
        deadline = time.monotonic() + self.start_timeout
        last: object = None
        while True:
            for name, part in state["components"].items():
                if not process_alive(part["pid"], part["create_time"]):
                    raise ServiceError(self._failure(f"airflow {name} exited during start-up"))
            try:
                last = health(state["port"])
                if all(last.get(part, {}).get("status") == "healthy" for part in HEALTHY):
                    warm_up_execution_api(state["port"])
                    return
            except OSError as exc:
                last = exc
            if time.monotonic() > deadline:
                raise ServiceError(self._failure(f"airflow not healthy after {self.start_timeout:.0f} s: {last}"))
            time.sleep(1.0)


def warm_up_execution_api(port: int) -> None:
    """
    Make the API server build its Execution API before tasks call it. It does that on its first request
    (Cadwyn's versioned routers), on the server's one event loop: tens of seconds on a loaded machine, during
    which no request is answered, so the first tasks' calls and the tests' polling timed out.
    """
    with urllib.request.urlopen(f"http://{HOST}:{port}/execution/health", timeout=600) as response:  # noqa: S310
        response.read()


def health(port: int) -> dict:
    """The API server's health report (metadatabase, scheduler, triggerer, dag_processor)."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/api/v2/monitor/health", timeout=5) as response:  # noqa: S310
        return json.loads(response.read())
