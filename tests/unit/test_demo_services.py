"""`make demo` starts only the services it passes to `devservices.airflow_env` (it once started them all)."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import devservices

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def test_the_demo_starts_only_services_its_airflow_environment_takes(monkeypatch):
    monkeypatch.syspath_prepend(str(DEMO.parent))  # as when run as a script: demo_data.py beside it
    spec = importlib.util.spec_from_file_location("obkafka_demo_script", DEMO)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    taken = set(inspect.signature(devservices.airflow_env).parameters)
    assert set(demo.SERVICES) <= taken, f"airflow_env takes {sorted(taken)}, the demo starts {demo.SERVICES}"
    assert {"kafka", "seekdb", "mariadb"} <= set(demo.SERVICES), "the demo's sources and destination"
