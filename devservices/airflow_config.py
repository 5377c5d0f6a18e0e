"""The configuration every component of the real-Airflow harness shares (devservices.airflow)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from devservices.base import HOST, REPO_ROOT

DAG_FILE = REPO_ROOT / "dags" / "obkafka_projects.py"
# LocalExecutor with four task slots: chunks of a full sync run side by side as on a small production host.
PARALLELISM = 4
# The DAG file is parsed again this often, so a project file written by a test becomes a DAG within seconds.
PARSE_INTERVAL_S = 5


def airflow_binary() -> list[str]:
    """The command running Airflow's CLI of this interpreter's environment."""
    beside = Path(sys.executable).parent / "airflow"
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "airflow"]


def clean_environ() -> dict[str, str]:
    """This process's environment without Airflow's settings or a projects folder a caller had set."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_", "AIRFLOW__", "OBKAFKA_PROJECTS_DIR"))
    }


def secrets_file(folder: Path) -> dict[str, str]:
    """The JWT and session secrets, made once per harness folder (every component must use the same)."""
    path = folder / "secrets"
    if not path.exists():
        path.write_text(f"{secrets.token_hex(32)}\n{secrets.token_hex(32)}\n")
        path.chmod(0o600)
    jwt, session = path.read_text().split()
    return {"AIRFLOW__API_AUTH__JWT_SECRET": jwt, "AIRFLOW__API__SECRET_KEY": session}


def component_env(folder: Path, ports: dict[str, int], database_url: str, connections: dict[str, str]) -> dict[str, str]:
    """
    The environment of every Airflow process of the harness.

    :param folder: the harness' state folder (Airflow home, DAGs folder, projects folder inside)
    :param ports: ``port`` (API server), ``worker_logs``, ``trigger_logs``, ``scheduler_health``, ``statsd`` (where
        every component sends its metrics over UDP: a test listens there, nothing else needs to)
    :param database_url: the metadata database (PostgreSQL)
    :param connections: ``AIRFLOW_CONN_*`` and ``OBKAFKA_*`` variables of the services (devservices.airflow_env)
    """
    api = f"http://{HOST}:{ports['port']}"
    env = clean_environ()
    env.update(
        {
            "AIRFLOW_HOME": str(folder / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder / "dags"),
            "OBKAFKA_PROJECTS_DIR": str(folder / "projects"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": database_url,
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(ports["port"]),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"{api}/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_logs"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": HOST,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["scheduler_health"]),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(PARSE_INTERVAL_S),
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": HOST,
            "AIRFLOW__METRICS__STATSD_PORT": str(ports["statsd"]),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }
    )
    env.update(secrets_file(folder))
    env.update(connections)
    return env


def prepare_folders(folder: Path) -> None:
    """The Airflow home, the projects folder, and a DAGs folder holding the project's DAG file (a link)."""
    for name in ("home", "dags", "projects"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    link = folder / "dags" / DAG_FILE.name
    if not (link.is_symlink() and link.resolve() == DAG_FILE.resolve()):
        link.unlink(missing_ok=True)
        link.symlink_to(DAG_FILE)
