#!/usr/bin/env bash
# Builds .venv-floors: the project (editable, with its dev extra) and every runtime dependency pinned at its
# declared floor (scripts/floors.txt). pip fails when the pins cannot be installed together. Run by
# `make test-floors`, which reruns it only when pyproject.toml, the floors or this script change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FLOORS_VENV:-.venv-floors}
FLOORS=${FLOORS_FILE:-scripts/floors.txt}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The pins go in both as requirements (so each is installed exactly) and as constraints (so nothing that
# the project or its dev extra pulls in can lift one); floors-constraints.txt holds Airflow's own
# dependencies where Airflow's bounds are too loose (see that file).
"$VENV/bin/python" -m pip install -q -r "$FLOORS" -c "$FLOORS" -c scripts/floors-constraints.txt -e '.[dev]'
"$VENV/bin/python" scripts/check_floors.py "$FLOORS"
