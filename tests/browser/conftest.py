"""Fixtures of the browser test: a whole Airflow (`airflow standalone`) in a private home, and its UI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devservices.base import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
BROWSER_DIR = Path(__file__).resolve().parent
DAG_FILE = REPO / "dags" / "obkafka_projects.py"
CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT_S = 120.0


@dataclass
class AirflowUI:
    """A running `airflow standalone`: where its UI answers and where its projects and logs are."""

    url: str
    home: Path
    projects_dir: Path
    log: Path

    def log_tail(self, chars: int = 6000) -> str:
        """The end of the components' combined output, for failure messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"


def _require_browser() -> None:
    """Fail with the fix when Chromium or playwright-core is missing (`make browser-deps` installs both)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/browser/node_modules/playwright-core (npm ci in tests/browser)")
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        pytest.fail("browser test prerequisites missing: " + ", ".join(missing) + "; run `make browser-deps`",
                    pytrace=False)  # fmt: skip


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], ui: AirflowUI) -> None:
    """Wait until the API server answers its health endpoint (the other components start beside it)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"airflow standalone exited with {proc.returncode}:\n{ui.log_tail()}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(
        f"the Airflow UI did not answer within {START_TIMEOUT_S:.0f} s:\n{ui.log_tail()}", pytrace=False
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop `airflow standalone` and every component it started: they share the process group made for it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # components that outlive the parent (same group, started here)
    except ProcessLookupError:
        pass


@pytest.fixture
def airflow_ui(tmp_path: Path, airflow_conn_env: dict[str, str]) -> Iterator[AirflowUI]:
    """
    `airflow standalone` (API server, scheduler, DAG processor, triggerer; LocalExecutor; SQLite) in a private
    AIRFLOW_HOME, serving a DAGs folder with the provider's `obkafka_projects.py`; projects are read from
    `ui.projects_dir` (write them before the DAG processor's next pass). SimpleAuthManager in all-admins mode:
    the UI needs no login. Listens on a free loopback port; everything is stopped afterwards.
    """
    _require_browser()
    if not DAG_FILE.exists():
        pytest.fail(f"{DAG_FILE} is missing: the DAG factory's DAG file is needed", pytrace=False)
    home, dags, projects = tmp_path / "airflow", tmp_path / "dags", tmp_path / "projects"
    for folder in (home, dags, projects):
        folder.mkdir()
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    port = free_port()
    worker_logs = free_port({port})
    trigger_logs = free_port({port, worker_logs})
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_")}
    env.update(airflow_conn_env)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_logs),  # not the fixed 8793 and 8794
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_logs),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "OBKAFKA_PROJECTS_DIR": str(projects),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    ui = AirflowUI(url=url, home=home, projects_dir=projects, log=tmp_path / "standalone.log")
    with ui.log.open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), "standalone"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_healthy(url, proc, ui)
        yield ui
    finally:
        _stop(proc)
