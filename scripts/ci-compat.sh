#!/usr/bin/env bash
# CI's compatibility step (.ci/run runs it beside `make test`): the dependency floors (`make test-floors`) and the older
# Kafka brokers (`make test-compat COMPAT_VERSIONS=2.8,3.9`; `make test` ran the same suite on 4.1) side by
# side. Each starts its own seekdb, MariaDB and brokers under its own state folder (OBKAFKA_STATE_DIR), so
# neither reuses nor stops the other's, nor `make test`'s; each stops what it started. Exits non-zero when
# either failed; their output follows, one after the other. Figures: docs/compatibility.md.
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${CI_STATE_DIR:-$PWD/.ci-state}
mkdir -p "$STATE"
unset OBKAFKA_TEST_KAFKA_BOOTSTRAP OBKAFKA_TEST_SEEKDB OBKAFKA_TEST_MARIADB OBKAFKA_TEST_OBBINLOG
run() {  # run NAME COMMAND...: the command in the background, its output in $STATE/NAME.log
    local name=$1
    shift
    mkdir -p "$STATE/$name"
    ( export OBKAFKA_STATE_DIR="$STATE/$name"; SECONDS=0; "$@"; rc=$?; echo "---- $name: exit $rc after ${SECONDS} s"; exit $rc ) \
        >"$STATE/$name.log" 2>&1 &
}
run floors make test-floors
FLOORS=$!
run compat make test-compat COMPAT_VERSIONS=2.8,3.9
COMPAT=$!
wait "$FLOORS"; FLOORS_RC=$?
wait "$COMPAT"; COMPAT_RC=$?
for name in floors compat; do
    echo "==== $name ===="
    cat "$STATE/$name.log"
done
exit $(( FLOORS_RC != 0 ? FLOORS_RC : COMPAT_RC ))
