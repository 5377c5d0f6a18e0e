"""pyproject.toml's lower bounds are the versions `make test-floors` installs and tests (floors.txt)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "scripts" / "floors.txt").read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            name, _, version = text.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def _lower_bounds() -> dict[str, str | None]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds: dict[str, str | None] = {}
    for text in project["dependencies"]:
        req = Requirement(text)
        lows = [s.version for s in req.specifier if s.operator == ">="]
        bounds[req.name.lower()] = lows[0] if lows else None
    return bounds


def test_every_dependency_has_a_floor_and_the_floors_venv_pins_exactly_it() -> None:
    bounds, pins = _lower_bounds(), _pins()
    assert {name for name, low in bounds.items() if low is None} == set(), "each dependency needs a >= floor"
    assert set(pins) == set(bounds), "scripts/floors.txt must pin each runtime dependency of pyproject.toml"
    wrong = {name: (bounds[name], pins[name]) for name in bounds if bounds[name] != pins[name]}
    assert wrong == {}, "pyproject.toml floor != scripts/floors.txt pin (pyproject, floors.txt)"


def test_floors_reach_the_apis_the_code_uses() -> None:
    """The floors found by installing them (docs/compatibility.md): older ones lack what the code calls."""
    from packaging.version import Version

    bounds = _lower_bounds()
    # airflow.sdk.exceptions.AirflowFailException, airflow.sdk.CronDataIntervalTimetable: task SDK 1.2 (3.2)
    assert Version(bounds["apache-airflow"]) >= Version("3.2.2")  # 3.2.0-3.2.1: test_dag_serialization.py
    # dag.test()'s in-process execution API keeps its services (the test below)
    assert Version(bounds["apache-airflow"]) >= Version("3.3.0")
    # KafkaBaseHook._build_config (hooks/kafka.py)
    assert Version(bounds["apache-airflow-providers-apache-kafka"]) >= Version("1.15.1")
    # Connection._current_timeout (engine/binlog/wire.py)
    assert Version(bounds["pymysql"]) >= Version("1.2.1")


def test_dag_test_execution_api_keeps_its_services_while_tasks_run(monkeypatch) -> None:
    """
    `dag.test()` and `airflow dags test` run each task through Airflow's in-process execution API. In Airflow
    3.2 that API's service registry is torn down as soon as the object that built it is dropped (which
    `dag.test()` does at once), and a task then dies with `KeyError: 'svcs_registry'`: the smoke test of
    `make test-floors` did at 3.2.2. Airflow 3.3.0 ties the registry to the transport (the floor since).
    """
    import gc
    import time

    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    # Airflow 3.2 needs a secret even in process (an installation's airflow.cfg has one)
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "a-test-secret-of-32-characters-xx")
    client = InProcessTestSupervisor._api_client()
    app = client._transport.app.app  # httpx transport -> a2wsgi middleware -> the FastAPI app
    deadline = time.monotonic() + 30
    while not hasattr(app.state, "svcs_registry") and time.monotonic() < deadline:
        time.sleep(0.1)  # Airflow 3.2 starts the app's lifespan without waiting for it
    gc.collect()
    assert hasattr(app.state, "svcs_registry"), "the in-process execution API lost its services"
    client.close()
