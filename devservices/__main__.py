"""Command line: ``python -m devservices {fetch-kafka,start,stop,status,env,clean} [--only a,b]``."""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import sys

import devservices
from devservices.base import ServiceError, state_root


def _only(value: str | None) -> list[str] | None:
    """Parse ``--only kafka,seekdb``."""
    return None if value is None else [n for n in value.split(",") if n.strip()]


def cmd_fetch_kafka(args: argparse.Namespace) -> int:
    """Fetch the Kafka broker jars into the cache."""
    libs = devservices.fetch_kafka(force=args.force)
    print(f"kafka jars: {libs} ({len(list(libs.glob('*.jar')))} jars)")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """Start the services that are not running (default: Kafka, seekdb, MariaDB); stop at the first failure."""
    for name in devservices.resolve_names(_only(args.only), devservices.DEFAULT_NAMES):
        try:
            info = devservices.service(name).ensure_running()
        except ServiceError as exc:
            print(f"{name:8} FAILED to start: {exc}", file=sys.stderr)
            return 1
        took = devservices.service(name).state().get("ready_after_s")
        status = f"started in {took} s" if info.started_by_us else "already running"
        print(f"{name:8} {info.address:22} pid {info.pid!s:<8} {status}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the services."""
    for name, was_running in devservices.stop(_only(args.only)).items():
        print(f"{name:8} {'stopped' if was_running else 'not running'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print one line per service."""
    for name in devservices.resolve_names(_only(args.only)):
        svc = devservices.service(name)
        state = svc.state()
        running = svc.is_running(state)
        port = state.get("port", "-")
        pid = state.get("pid", "-") if running else "-"
        print(
            f"{name:8} {'running' if running else 'stopped':8} port {port!s:<6} pid {pid!s:<8} {svc.data_dir}"
        )
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print ``export`` lines for the running services."""
    infos = {}
    missing = []
    for name in devservices.resolve_names(_only(args.only), devservices.DEFAULT_NAMES):
        if name not in devservices.DEFAULT_NAMES:  # the Airflow harness is not a connection
            continue
        info = devservices.info(name)
        if info is None:
            missing.append(name)
        else:
            infos[name] = info
    for key, value in devservices.airflow_env(**infos).items():
        print(f"export {key}={shlex.quote(value)}")
    if missing:
        print(f"# not running: {', '.join(missing)} (python -m devservices start)", file=sys.stderr)
        return 1
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    """Stop everything, then delete the state folder."""
    devservices.stop()
    root = state_root()
    if root.exists():
        shutil.rmtree(root)
    print(f"removed {root}")
    return 0


COMMANDS = {
    "fetch-kafka": cmd_fetch_kafka,
    "start": cmd_start,
    "stop": cmd_stop,
    "status": cmd_status,
    "env": cmd_env,
    "clean": cmd_clean,
}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command."""
    parser = argparse.ArgumentParser(prog="python -m devservices", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--only", help="comma-separated subset of: " + ",".join(devservices.NAMES))
    parser.add_argument("--force", action="store_true", help="fetch-kafka: fetch again")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("devservices.kafka").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return COMMANDS[args.command](args)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
