"""MariaDB with a ROW binlog: the change-log source the binlog reader is tested against."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from devservices.base import HOST, ServiceError, port_answers
from devservices.service import Service

log = logging.getLogger(__name__)

NOT_INSTALLED = "MariaDB server not installed: run `make system-deps` (scripts/install-system-deps.sh)"
GRANTS_MARKER = ".tcp-root-granted"
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


def find_binary(name: str) -> str | None:
    """Return the path of ``name`` on PATH or in /usr/sbin, /usr/bin."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/usr/local/sbin")


class ServerTls(NamedTuple):
    """The server side of TLS: the CA that signs client certificates, the server certificate and its key."""

    ca: Path
    cert: Path
    key: Path


class MariadbService(Service):
    """
    mariadbd on 127.0.0.1 with ROW/FULL binlog, ``root`` without password over TCP.

    :param tls: serve TLS with these files (plain text stays possible unless a user requires TLS)
    """

    name = "mariadb"
    start_timeout = 60.0

    def __init__(self, tls: ServerTls | None = None) -> None:
        self.tls = tls

    @property
    def socket_path(self) -> Path:
        """Return the server's Unix socket (in /tmp when the data dir path is too long for a socket)."""
        path = self.data_dir / "mysqld.sock"
        if len(str(path)) <= MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"obkafka-mariadb-{digest}.sock"

    @property
    def error_log(self) -> Path:
        """Return the server's error log."""
        return self.dir / "error.log"

    def check_installed(self) -> None:
        """Require mariadbd and mariadb-install-db."""
        if not (find_binary("mariadbd") and find_binary("mariadb-install-db")):
            raise ServiceError(NOT_INSTALLED)

    def prepare(self, ports: dict[str, int]) -> None:
        """Create the system tables on first start."""
        if (self.data_dir / "mysql").is_dir():
            return
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-initialised data dir from an interrupted first start
        cmd = [
            str(find_binary("mariadb-install-db")),
            "--no-defaults",
            f"--datadir={self.data_dir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--user=root",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.dir)  # noqa: S603
        if proc.returncode != 0:
            raise ServiceError(
                f"mariadb-install-db failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        (self.data_dir / GRANTS_MARKER).unlink(missing_ok=True)
        log.info("initialised MariaDB data dir %s", self.data_dir)

    def command(self, ports: dict[str, int]) -> list[str]:
        """Return the mariadbd command line."""
        d = self.data_dir
        return [
            str(find_binary("mariadbd")),
            "--no-defaults",
            f"--datadir={d}",
            f"--port={ports['port']}",
            f"--bind-address={HOST}",
            f"--socket={self.socket_path}",
            f"--pid-file={self.dir / 'mariadbd.pid'}",
            f"--log-error={self.error_log}",
            "--user=root",
            "--server-id=1",
            f"--log-bin={d / 'binlog'}",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
            "--binlog-checksum=CRC32",
            "--gtid-strict-mode=ON",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=128M",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
            "--max-connections=500",
            *self._tls_options(),
        ]

    def _tls_options(self) -> list[str]:
        if self.tls is None:
            return []
        return [f"--ssl-ca={self.tls.ca}", f"--ssl-cert={self.tls.cert}", f"--ssl-key={self.tls.key}"]

    def probe(self, ports: dict[str, int]) -> bool:
        """Return True when the server accepts root on its Unix socket (TCP root comes in after_ready)."""
        if not port_answers(ports["port"]):
            return False
        self._run_sql(unix_socket=str(self.socket_path), statements=["SELECT 1"])
        return True

    def after_ready(self, ports: dict[str, int]) -> None:
        """Let root log in over TCP without password, with all privileges (binlog reading included)."""
        marker = self.data_dir / GRANTS_MARKER
        if not marker.exists():
            statements = ["SET SESSION sql_log_bin = 0"]
            for host in ("127.0.0.1", "%"):
                statements += [
                    f"CREATE USER IF NOT EXISTS 'root'@'{host}' IDENTIFIED BY ''",
                    f"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{host}' WITH GRANT OPTION",
                ]
            statements.append("FLUSH PRIVILEGES")
            self._run_sql(unix_socket=str(self.socket_path), statements=statements)
            marker.write_text("root@127.0.0.1 and root@% granted\n")
        self._run_sql(host=HOST, port=ports["port"], statements=["SELECT 1"])

    @staticmethod
    def _run_sql(statements: list[str], **connect: object) -> None:
        """Connect as root (socket or TCP) and run ``statements``."""
        import pymysql

        conn = pymysql.connect(user="root", password="", connect_timeout=5, autocommit=True, **connect)
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
        finally:
            conn.close()

    def log_files(self) -> list[Path]:
        """Return the stdout log and the error log."""
        return [self.log_path, self.error_log]
