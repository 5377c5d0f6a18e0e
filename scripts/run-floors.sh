#!/usr/bin/env bash
# `make test-floors`: the unit tests and one end-to-end smoke test (a generated project DAG: precheck, schema,
# full, then incremental sync) in .venv-floors, where every dependency is at its declared floor. Starts the
# local services unless OBKAFKA_TEST_* name running ones, and stops what it started whatever the outcome.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${FLOORS_VENV:-.venv-floors}/bin/python
SMOKE=tests/integration/test_project_dag.py
$PY scripts/check_floors.py || exit 1
if [ -z "${OBKAFKA_TEST_KAFKA_BOOTSTRAP:-}" ] || [ -z "${OBKAFKA_TEST_SEEKDB:-}" ] || [ -z "${OBKAFKA_TEST_MARIADB:-}" ]; then
    $PY -m devservices start || { $PY -m devservices stop; exit 1; }
    trap '$PY -m devservices stop' EXIT
fi
$PY -m pytest tests/unit "$SMOKE" -p no:cacheprovider "$@"
