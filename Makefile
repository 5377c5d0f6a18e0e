# airflow-provider-obkafka: one entry point for setup, the local services, tests and the demo.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help setup system-deps venv floors-venv kafka-jars browser-deps services services-stop services-status lint test test-unit \
	test-floors test-compat demo ui clean

help:
	@echo "make test            install everything, start the local services, run the whole suite, stop them"
	@echo "make demo            the end-to-end demo: sample tables, full + incremental sync through Airflow, read back"
	@echo "make ui              the Airflow UI (airflow standalone) on the demo's setup, http://127.0.0.1:8080"
	@echo "make services        start Kafka (KRaft), seekdb, MariaDB (binlog) and the obbinlog double on loopback ports"
	@echo "make services-stop   stop them; nothing is left running"
	@echo "make test-unit       the tests that need no services"
	@echo "make lint            ruff and mypy --strict on the package (make test runs it first)"
	@echo "make test-floors     unit tests + an end-to-end smoke test with every dependency at its floor (.venv-floors)"
	@echo "make test-compat     the broker compatibility suite against Kafka 2.8 (ZooKeeper), 3.9 and 4.1 (KRaft)"

setup: system-deps venv kafka-jars

system-deps:
	@bash scripts/install-system-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# Every runtime dependency at its declared floor (scripts/floors.txt); rebuilt only when these files change.
FLOORS_VENV := .venv-floors
FLOORS_STAMP := $(FLOORS_VENV)/.installed-stamp

floors-venv: $(FLOORS_STAMP)

$(FLOORS_STAMP): pyproject.toml scripts/floors.txt scripts/floors-constraints.txt scripts/floors-venv.sh \
		scripts/check_floors.py
	FLOORS_VENV=$(FLOORS_VENV) PYTHON=$(PYTHON) bash scripts/floors-venv.sh
	@touch $(FLOORS_STAMP)

kafka-jars: venv
	$(PY) -m devservices fetch-kafka

# The browser test (tests/browser): Debian's chromium (scripts/install-system-deps.sh) and playwright-core
# from tests/browser/package-lock.json; npm ci runs again only when the lock file changes.
BROWSER_STAMP := tests/browser/node_modules/.package-lock.json

browser-deps: system-deps $(BROWSER_STAMP)

$(BROWSER_STAMP): tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund

services: setup
	$(PY) -m devservices start

services-stop:
	@if [ -x $(PY) ]; then $(PY) -m devservices stop; fi

services-status: venv
	$(PY) -m devservices status

test-unit: venv
	$(PY) -m pytest tests/unit -q

# ruff and mypy --strict on the package (settings in pyproject.toml); a finding fails `make test` before
# any service starts.
lint: venv
	$(VENV)/bin/ruff check airflow_provider_obkafka
	$(VENV)/bin/mypy

test: setup lint browser-deps
	bash scripts/run-tests.sh

test-floors: setup $(FLOORS_STAMP)
	FLOORS_VENV=$(FLOORS_VENV) bash scripts/run-floors.sh

# Each broker of the matrix is fetched (Maven), started fresh in its own state folder, tested and stopped.
# CI passes COMPAT_VERSIONS=2.8,3.9: `make test` has already run the same tests against 4.1.
COMPAT_VERSIONS ?= 2.8,3.9,4.1

test-compat: setup
	$(PY) scripts/compat_matrix.py --versions $(COMPAT_VERSIONS) --report .compat/results.md

# Reuses running services and leaves them running (make services-stop stops them); state in .demo/.
demo: setup
	$(PY) scripts/demo.py

ui: setup
	$(PY) scripts/demo.py ui

clean: services-stop
	rm -rf .services .demo .compat $(VENV) $(FLOORS_VENV) tests/browser/node_modules
