"""The devservices ``Service`` that runs the obbinlog test double (``python -m devservices.obbinlog``)."""

from __future__ import annotations

import os
import sys

from devservices.base import HOST, REPO_ROOT, ServiceError
from devservices.service import Service

DEFAULT_MAX_SIZE = 65536


def max_binlog_size() -> int:
    """The file size at which the double rotates (``OBKAFKA_OBBINLOG_MAX_SIZE``, default 64 KiB)."""
    value = os.environ.get("OBKAFKA_OBBINLOG_MAX_SIZE", str(DEFAULT_MAX_SIZE))
    if not value.isdigit() or int(value) < 4096:
        raise ServiceError(f"OBKAFKA_OBBINLOG_MAX_SIZE={value!r}: expected a number of bytes >= 4096")
    return int(value)


class ObbinlogService(Service):
    """The OceanBase Binlog Service test double, fed by the MariaDB service's binlog (started first)."""

    name = "obbinlog"
    start_timeout = 60.0

    def prepare(self, ports: dict[str, int]) -> None:
        """Make sure MariaDB runs, and remember where (the double reads it as a replica)."""
        from devservices.mariadb import MariadbService

        self._mariadb = MariadbService().ensure_running()

    def command(self, ports: dict[str, int]) -> list[str]:
        """``python -m devservices.obbinlog`` with the port, data folder, MariaDB address and file size."""
        return [
            sys.executable, "-m", "devservices.obbinlog", "--host", HOST, "--port", str(ports["port"]),
            "--data-dir", str(self.data_dir), "--mariadb-host", self._mariadb.host,
            "--mariadb-port", str(self._mariadb.port), "--max-binlog-size", str(max_binlog_size()),
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        """Inherit the environment, with the repository importable."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    def probe(self, ports: dict[str, int]) -> bool:
        """Ready when it answers ``SHOW MASTER STATUS`` as root."""
        import pymysql

        conn = pymysql.connect(host=HOST, port=ports["port"], user="root", password="", connect_timeout=2)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW MASTER STATUS")
                return cur.fetchone() is not None
        finally:
            conn.close()
