"""PostgreSQL from Debian's package: the metadata database of the real-Airflow harness (devservices.airflow)."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from devservices.base import HOST, ServiceError, port_answers
from devservices.service import Service

log = logging.getLogger(__name__)

NOT_INSTALLED = "PostgreSQL server not installed: run `make system-deps` (scripts/install-system-deps.sh)"
DATABASE = "airflow"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` account Debian's package creates.
SERVER_ACCOUNT = "postgres"
# A throw-away test database: durability traded for speed; enough connections for every Airflow component.
SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "128MB",
}


def server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``postgres`` (Debian's layout)."""
    found = [
        folder / "bin"
        for folder in Path("/usr/lib/postgresql").glob("*")
        if (folder / "bin" / "initdb").is_file() and (folder / "bin" / "postgres").is_file()
    ]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return found[-1] if found else None


class PostgresService(Service):
    """postgres on 127.0.0.1 with its own data dir, trust authentication, and a database ``airflow``."""

    name = "postgres"
    start_timeout = 60.0
    stop_signal = signal.SIGINT  # fast shutdown: SIGTERM ("smart") would wait for every client to leave

    @property
    def run_as(self) -> str | None:  # type: ignore[override]
        """The `postgres` account when this process is root, else this process's user."""
        return SERVER_ACCOUNT if os.geteuid() == 0 else None

    @property
    def socket_dir(self) -> Path:
        """The folder of the server's Unix socket (its own, not Debian's /var/run/postgresql)."""
        return self.dir / "run"

    def check_installed(self) -> None:
        """Require Debian's server binaries (and the `postgres` account when run as root)."""
        if server_binaries() is None:
            raise ServiceError(NOT_INSTALLED)
        if self.run_as is not None:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                raise ServiceError(f"no {SERVER_ACCOUNT!r} account: {NOT_INSTALLED}") from None

    def prepare(self, ports: dict[str, int]) -> None:
        """Create the cluster on first start (initdb, as the server's account)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.socket_dir)
        if (self.data_dir / "PG_VERSION").is_file():
            return
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-initialised data dir from an interrupted first start
        self.data_dir.mkdir(mode=0o700)
        self._own(self.data_dir)
        cmd = [str(server_binaries() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
               "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]  # fmt: skip
        proc = subprocess.run(  # noqa: S603 - a fixed command
            cmd, capture_output=True, text=True, check=False, cwd=self.dir, user=self.run_as
        )
        if proc.returncode != 0:
            raise ServiceError(f"initdb failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        log.info("initialised PostgreSQL data dir %s", self.data_dir)

    def _own(self, path: Path) -> None:
        """Give ``path`` to the server's account (when it is not this process's user)."""
        if self.run_as is not None:
            shutil.chown(path, user=self.run_as, group=self.run_as)

    def command(self, ports: dict[str, int]) -> list[str]:
        """Return the postgres command line."""
        cmd = [str(server_binaries() / "postgres"), "-D", str(self.data_dir), "-p", str(ports["port"]),
               "-k", str(self.socket_dir)]  # fmt: skip
        for key, value in SETTINGS.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def probe(self, ports: dict[str, int]) -> bool:
        """Return True when the server accepts a query over TCP."""
        if not port_answers(ports["port"]):
            return False
        self._run_sql(ports["port"], "postgres", ["SELECT 1"])
        return True

    def after_ready(self, ports: dict[str, int]) -> None:
        """Create the database ``airflow`` unless it is there."""
        import psycopg

        with psycopg.connect(host=HOST, port=ports["port"], user=SUPERUSER, dbname="postgres",
                             autocommit=True, connect_timeout=5) as conn:  # fmt: skip
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    @staticmethod
    def _run_sql(port: int, dbname: str, statements: list[str]) -> None:
        """Connect as the superuser over TCP and run ``statements``."""
        import psycopg

        with psycopg.connect(host=HOST, port=port, user=SUPERUSER, dbname=dbname, autocommit=True,
                             connect_timeout=5) as conn:  # fmt: skip
            for sql in statements:
                conn.execute(sql)


def sqlalchemy_url(host: str, port: int) -> str:
    """The Airflow metadata database URL of the harness' PostgreSQL (psycopg 3, sync and async alike)."""
    return f"postgresql+psycopg://{SUPERUSER}@{host}:{port}/{DATABASE}"
