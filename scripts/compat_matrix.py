"""Run the broker compatibility suite (tests marked ``compat``) against each Kafka of the matrix.

Usage: ``python scripts/compat_matrix.py [--versions 2.8,3.9,4.1] [--report FILE] [pytest args...]``

For each version: a fresh broker of that version (its own state folder, wiped first; 2.8 with its own
ZooKeeper) is started, ``pytest -m compat tests/integration`` runs with ``OBKAFKA_TEST_KAFKA_BOOTSTRAP``
pointing at it, and the broker is stopped. seekdb and MariaDB are the ``OBKAFKA_TEST_*`` servers when
given, else started here once (and stopped at the end). Prints a Markdown table (also written to
``--report``); exits 1 when any version failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import devservices  # noqa: E402
from devservices.kafka_versions import VERSIONS, broker, release, uses_zookeeper  # noqa: E402
from devservices.service import Service  # noqa: E402

SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed).*?) in [\d.]+s", re.MULTILINE)
BROKER_VERSION = re.compile(r"Kafka version: (\S+)")


def _sources() -> tuple[dict[str, str], list[str]]:
    """Return the OBKAFKA_TEST_* variables for seekdb and MariaDB, and the services started here."""
    env, started = {}, []
    for name in ("seekdb", "mariadb"):
        info = devservices.external(name)
        if info is None:
            info = devservices.service(name).ensure_running()
            if info.started_by_us:
                started.append(name)
        env[devservices.OVERRIDE_ENV[name]] = info.address
    return env, started


def _broker_version(service: Service) -> str:
    """Return the version the broker logged at start-up (proof of what ran)."""
    for path in service.log_files():
        found = BROKER_VERSION.findall(path.read_text(errors="replace")) if path.exists() else []
        if found:
            return found[-1]
    return "unknown"


def run_version(name: str, env: dict[str, str], pytest_args: list[str]) -> dict[str, str]:
    """Start a fresh broker of ``name``, run the suite against it, stop it; return one result row."""
    service = broker(name)
    service.stop()
    shutil.rmtree(service.dir, ignore_errors=True)
    t0 = time.monotonic()
    info = service.ensure_running()
    started = time.monotonic() - t0
    run_env = {**os.environ, **env, devservices.OVERRIDE_ENV["kafka"]: info.bootstrap}
    cmd = [sys.executable, "-m", "pytest", "tests/integration", "-m", "compat", "-q"]
    cmd += ["-p", "no:cacheprovider"]
    t1 = time.monotonic()
    try:
        proc = subprocess.run([*cmd, *pytest_args], cwd=ROOT, env=run_env, capture_output=True, text=True)
        ran = _broker_version(service)
    finally:
        service.stop()
    sys.stdout.write(proc.stdout[-6000:] + proc.stderr[-2000:])
    found = SUMMARY.findall(proc.stdout)
    return {
        "version": name,
        "broker": f"{ran} ({'ZooKeeper' if uses_zookeeper(name) else 'KRaft'})",
        "result": f"{'PASS' if proc.returncode == 0 else 'FAIL'}: {found[-1][0] if found else 'no summary'}",
        "start_s": f"{started:.0f}",
        "suite_s": f"{time.monotonic() - t1:.0f}",
    }


def table(rows: list[dict[str, str]]) -> str:
    """Return the results as a Markdown table."""
    lines = ["| Kafka | broker run | compat suite | broker start (s) | suite (s) |", "|---|---|---|---|---|"]
    keys = ("version", "broker", "result", "start_s", "suite_s")
    lines += ["| " + " | ".join(row[key] for key in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Run the matrix; return 0 when every version passed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    known = ", ".join(VERSIONS)
    parser.add_argument("--versions", default=",".join(VERSIONS), help=f"comma-separated, of: {known}")
    parser.add_argument("--report", type=Path, help="also write the Markdown table here")
    args, pytest_args = parser.parse_known_args(argv)
    names = [v.strip() for v in args.versions.split(",") if v.strip()]
    for name in names:
        release(name)  # an unknown version fails before anything starts
    env, started = _sources()
    rows = []
    try:
        for name in names:
            rows.append(run_version(name, env, pytest_args))
            print(table(rows[-1:]), flush=True)
    finally:
        devservices.stop(started)
    report = table(rows)
    print(report)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report)
    counts = [int(n) for r in rows for n in re.findall(r"(\d+) passed", r["result"])]
    failed = [int(n) for r in rows for n in re.findall(r"(\d+) (?:failed|error)", r["result"])]
    ok = all(r["result"].startswith("PASS") for r in rows)
    print(f"compat: {sum(counts)} passed, {sum(failed) or (0 if ok else 1)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
