"""seekdb (the OceanBase 4.3 kernel as a single process) from the ``pylibseekdb`` wheel."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from devservices.base import HOST, ServiceError, port_answers
from devservices.service import Service

log = logging.getLogger(__name__)


def seekdb_home() -> Path:
    """Return the ``pylibseekdb`` package folder, which holds the ``seekdb`` executable."""
    try:
        import pylibseekdb
    except ImportError as exc:
        raise ServiceError("pylibseekdb is not installed: run `make venv` (pip install -e '.[dev]')") from exc
    return Path(os.path.dirname(pylibseekdb.__file__)).resolve()


class SeekdbService(Service):
    """seekdb answering MySQL protocol as ``root`` (no password) on ``port``.

    seekdb listens on all addresses (it has no bind-address option) and on that one port only.
    """

    name = "seekdb"
    start_timeout = 180.0

    @property
    def data_dir(self) -> Path:
        """Return seekdb's base directory (it creates ``store``, ``log``, ``etc``, ``run`` in it)."""
        return self.dir / "base"

    def check_installed(self) -> None:
        """Require the ``seekdb`` executable."""
        exe = seekdb_home() / "seekdb"
        if not os.access(exe, os.X_OK):
            raise ServiceError(f"{exe} is missing or not executable")

    def prepare(self, ports: dict[str, int]) -> None:
        """Create the base directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self, ports: dict[str, int]) -> list[str]:
        """Return the seekdb command line (absolute paths; seekdb chdirs into its base dir)."""
        return [
            str(seekdb_home() / "seekdb"),
            "--nodaemon",
            "--base-dir",
            str(self.data_dir),
            "--port",
            str(ports["port"]),
            "--parameter",
            "memory_budget=1G",
            "--parameter",
            "log_disk_size=2G",
            "--parameter",
            "datafile_size=1G",
            "--variable",
            "time_zone=+08:00",
        ]

    def env(self) -> dict[str, str]:
        """Return the environment with the wheel's folder (libaio, libseekdb) on the library path."""
        env = dict(os.environ)
        home = str(seekdb_home())
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (home, env.get("LD_LIBRARY_PATH")) if p)
        return env

    def probe(self, ports: dict[str, int]) -> bool:
        """Return True when ``SELECT 1`` works as root over TCP."""
        if not port_answers(ports["port"]):
            return False
        import pymysql

        conn = pymysql.connect(
            host=HOST, port=ports["port"], user="root", password="", connect_timeout=5, read_timeout=10
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone() == (1,)
        finally:
            conn.close()

    def log_files(self) -> list[Path]:
        """Return the stdout log and seekdb's own log."""
        return [self.log_path, self.data_dir / "log" / "seekdb.log"]
