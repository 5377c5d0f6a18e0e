#!/usr/bin/env bash
# Builds .venv-floors: the project (editable, with its dev extra but OpenLineage) and every runtime dependency pinned at its
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
# The dev extra without the OpenLineage provider: every release of it that Airflow 3.3 takes needs a newer
# common-sql than the provider's floor (2.20.3: common-sql>=1.32.0), and no test run here uses it (the
# lineage tests run in `make test`); a user of the `openlineage` extra gets the newer common-sql with it.
DEV_REQUIREMENTS=$(mktemp)
trap 'rm -f "$DEV_REQUIREMENTS"' EXIT
"$VENV/bin/python" - "$DEV_REQUIREMENTS" <<'PY'
import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    dev = tomllib.load(file)["project"]["optional-dependencies"]["dev"]
with open(sys.argv[1], "w") as out:
    out.writelines(f"{item}\n" for item in dev if not item.startswith("apache-airflow-providers-openlineage"))
PY
"$VENV/bin/python" -m pip install -q -r "$FLOORS" -c "$FLOORS" -c scripts/floors-constraints.txt \
    -r "$DEV_REQUIREMENTS" -e .
"$VENV/bin/python" scripts/check_floors.py "$FLOORS"
