"""`make test` lints first: ruff and mypy --strict on the package, installed by the dev extra."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_test_runs_ruff_and_mypy_before_the_suite() -> None:
    proc = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    suite = next(i for i, line in enumerate(lines) if "scripts/run-tests.sh" in line)
    ruff = next(i for i, line in enumerate(lines) if "ruff check airflow_provider_obkafka" in line)
    mypy = next(i for i, line in enumerate(lines) if line.strip().endswith("bin/mypy"))
    assert ruff < suite
    assert mypy < suite


def test_mypy_is_strict_on_the_package_and_the_tools_are_dev_dependencies() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mypy = pyproject["tool"]["mypy"]
    assert mypy["strict"] is True
    assert mypy["files"] == ["airflow_provider_obkafka"]
    dev = {req.split("[")[0].split(">")[0].split("<")[0].split("=")[0].lower() for req in
           pyproject["project"]["optional-dependencies"]["dev"]}  # fmt: skip
    assert {"ruff", "mypy"} <= dev
