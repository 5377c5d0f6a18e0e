#!/usr/bin/env bash
# Starts the local services, runs the whole suite, and stops the services whatever the outcome.
# The real-scheduler tests (tests/scheduler) mostly wait on Airflow's own clock (intervals, retry delays):
# they run beside the rest, against the same services, and their output follows the main run's.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m devservices start || { $PY -m devservices stop; exit 1; }
trap '$PY -m devservices stop' EXIT
if [ "$#" -gt 0 ]; then
    $PY -m pytest tests "$@"
    exit $?
fi
SCHEDULER_LOG=$(mktemp)
$PY -m pytest tests/scheduler -p no:cacheprovider >"$SCHEDULER_LOG" 2>&1 &
SCHEDULER_PID=$!
$PY -m pytest tests --ignore=tests/scheduler
MAIN=$?
wait "$SCHEDULER_PID"
SCHEDULER=$?
echo "---- tests/scheduler (ran beside the main suite) ----"
cat "$SCHEDULER_LOG"
rm -f "$SCHEDULER_LOG"
exit $(( MAIN != 0 ? MAIN : SCHEDULER ))
