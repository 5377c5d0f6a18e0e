#!/usr/bin/env bash
# Starts the local services, runs the whole suite, and stops the services whatever the outcome.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m devservices start || { $PY -m devservices stop; exit 1; }
trap '$PY -m devservices stop' EXIT
$PY -m pytest tests "$@"
