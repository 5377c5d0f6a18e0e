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
    # KafkaBaseHook._build_config (hooks/kafka.py)
    assert Version(bounds["apache-airflow-providers-apache-kafka"]) >= Version("1.15.1")
    # Connection._current_timeout (engine/binlog/wire.py)
    assert Version(bounds["pymysql"]) >= Version("1.2.1")
