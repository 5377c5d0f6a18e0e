"""
The change-log sources the incremental tests run against, behind one interface (the `source` fixture).

* `mariadb`: MariaDB's own binlog (connection `mariadb_binlog`): GTIDs of the MariaDB flavor, whole-second
  commit times, multi-row events, every file streamed by one dump.
* `obbinlog`: the OceanBase Binlog Service test double (`devservices/obbinlog`, connection `obbinlog`): SQL on
  the same MariaDB, the change log from the double, which re-encodes each MariaDB transaction as obbinlog
  writes it (one row per rows event, MySQL GTIDs with exact µs commit times, files of 64 KiB, a non-blocking
  dump sends one file).

The double converts MariaDB's transactions a moment after they commit: `caught_up()` waits until it has every
transaction MariaDB has committed, so a position read after it is past the test's writes.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql

from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.position import BinlogPosition
    from devservices import ServiceInfo

CONN_IDS = {"mariadb": "mariadb_binlog", "obbinlog": "obbinlog"}
MARKS = "obkafka_test_marks"


@dataclass
class Source:
    """
    One change-log source of the parametrized incremental tests.

    :param kind: `mariadb` or `obbinlog`
    :param mariadb: the MariaDB service the tests write to (the double's source too)
    :param endpoint: the service serving the change log (MariaDB itself, or the double)
    """

    kind: str
    mariadb: ServiceInfo
    endpoint: ServiceInfo

    @property
    def conn_id(self) -> str:
        """The Airflow connection of this source (set in the environment by the fixture)."""
        return CONN_IDS[self.kind]

    @property
    def is_obbinlog(self) -> bool:
        return self.kind == "obbinlog"

    @property
    def gtid_flavor(self) -> str:
        """The GTID flavor the source's positions carry: MySQL's for obbinlog."""
        return "mysql" if self.is_obbinlog else "mariadb"

    def hook(self) -> OceanBaseHook:
        return OceanBaseHook(ob_conn_id=self.conn_id)

    def settings(self) -> dict[str, Any]:
        """What `BinlogReader` needs to reach the change log."""
        return {"host": self.endpoint.host, "port": self.endpoint.port, "user": "root", "password": "",
                "charset": "utf8mb4"}  # fmt: skip

    def position(self) -> BinlogPosition:
        """The change log's end now, after every transaction MariaDB has committed so far."""
        self.caught_up()
        return self.hook().binlog_position()

    def caught_up(self, timeout: float = 120) -> None:
        """Wait until the double holds every transaction MariaDB committed before the call (MariaDB: now)."""
        if not self.is_obbinlog:
            return
        target = self._mark()
        deadline = time.monotonic() + timeout
        while (seen := self._double_source()) is None or seen < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the double read MariaDB up to {seen}, not yet {target}, in {timeout} s")
            time.sleep(0.05)

    def _mark(self) -> tuple[str, int]:
        """Commit a marker transaction on MariaDB; MariaDB's binlog end just after it."""
        conn = pymysql.connect(host=self.mariadb.host, port=self.mariadb.port, user="root", autocommit=True)
        with contextlib.closing(conn), conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {MARKS}")
            cur.execute(f"CREATE TABLE IF NOT EXISTS {MARKS}.m (id INT AUTO_INCREMENT PRIMARY KEY)")
            cur.execute(f"INSERT INTO {MARKS}.m VALUES ()")
            cur.execute("SHOW MASTER STATUS")
            file, pos = cur.fetchone()[:2]
        return file, int(pos)

    def _double_source(self) -> tuple[str, int] | None:
        """The MariaDB position after the last transaction the double converted (its `state.json`)."""
        if not self.endpoint.data_dir:
            raise AssertionError("the obbinlog double's data folder is unknown (OBKAFKA_TEST_OBBINLOG set?)")
        try:
            source = json.loads((Path(self.endpoint.data_dir) / "state.json").read_text()).get("source") or {}
        except (OSError, ValueError):
            return None
        return (source["file"], int(source["pos"])) if source.get("file") else None
