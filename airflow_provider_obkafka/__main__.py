"""
The provider's command line: `python -m airflow_provider_obkafka verify PROJECT.yaml`.

Connections come from Airflow, as the hooks read them (the metadata database, or `AIRFLOW_CONN_*` variables).
Exit status: 0 when every topic equals its table, 1 when a difference is found, 2 when verification could not
run (a bad project file, a missing checkpoint, a service that does not answer).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_obkafka")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="prove the project's topics equal their source tables")
    verify.add_argument("project", help="the project file (YAML)")
    verify.add_argument("--mode", choices=("auto", "full", "incremental"), default="auto",
                        help="auto: what the project's sync types allow (default)")
    verify.add_argument("--table", action="append", default=[], dest="tables", metavar="DB.TABLE",
                        help="verify this table only (repeatable)")
    verify.add_argument("--max-keys", type=int, default=1_000_000, help="rows held in memory at once")
    verify.add_argument("--rechecks", type=int, default=2, help="incremental: compare a differing key again")
    verify.add_argument("--settle-timeout", type=float, default=120.0, dest="settle_timeout_s",
                        help="incremental: seconds to wait for the checkpoint to reach the source's position")
    verify.add_argument("--json", action="store_true", help="print the reports as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from airflow_provider_obkafka.exceptions import ObKafkaError
    from airflow_provider_obkafka.models.loader import load_project
    from airflow_provider_obkafka.operators._verify_io import VerifySettings, verify_project

    try:
        project = load_project(args.project)
        settings = VerifySettings(mode=args.mode, tables=tuple(args.tables), max_keys=args.max_keys,
                                  rechecks=args.rechecks, settle_timeout_s=args.settle_timeout_s)  # fmt: skip
        reports = verify_project(project, settings)
    except (ObKafkaError, OSError) as exc:
        print(f"verify could not run: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([report.to_dict() for report in reports], indent=2, ensure_ascii=False))
    else:
        for report in reports:
            print("\n".join(report.lines()))
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
