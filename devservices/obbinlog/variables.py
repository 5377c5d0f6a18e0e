"""The variables the double reports, for its two fronts: obbinlog reached directly, or through ODP.

``direct``: what obbinlog's own SQL processor answers (``ShowVarProcessor::query_var`` in
``src/binlog/sql_cmd_processor.cpp``, v4 line): first the instance's binlog options (``BinlogConfig`` in
``src/cluster/instance_meta.h``: ``server_id``, ``server_uuid``, ``max_binlog_size`` ...), then the MySQL-like
table
of ``src/binlog/sys_var.h`` (``version`` 8.0.23, ``gtid_mode`` ON, ``log_bin`` OFF ...). It has no
``binlog_checksum``, ``binlog_format`` nor ``binlog_row_image``: asking for one is 1236 "Unknown system
variable".

``odp`` (the default): clients normally reach obbinlog through ODP, which sends plain SQL such as ``SELECT
@@x``
and ``SHOW VARIABLES`` to the OBServer. A binlog-enabled tenant reports ``binlog_format=ROW``,
``binlog_row_image=FULL``, ``binlog_checksum=CRC32``, ``binlog_rows_query_log_events=OFF``, ``log_bin=ON``
(reference notes §1.7, from the 2.x design doc), and the ODP handshake shows OceanBase's version (§1.8).
Which statements ODP really routes where is UNCONFIRMED against a cluster.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devservices.obbinlog.store import BinlogStore

DIRECT_VERSION = "5.7.35-obs"  # HandshakePacket::mysql_server_version
ODP_VERSION = "5.7.25-OceanBase_CE-v4.2.1.2"  # what ODP 4.2.1 announces (reference notes §1.8)
SYS_VARS = {
    "autocommit": "ON", "binlog_gtid_simple_recovery": "ON", "character_set_client": "utf8mb4",
    "character_set_connection": "utf8mb4", "character_set_results": "utf8mb4",
    "character_set_server": "utf8mb4",
    "collation_connection": "utf8mb4_general_ci", "collation_server": "utf8mb4_general_ci",
    "enforce_gtid_consistency": "OFF", "gtid_mode": "ON", "gtid_next": "AUTOMATIC", "gtid_owned": "",
    "hostname": "localhost", "log_bin": "OFF", "log_bin_basename": "", "log_bin_index": "",
    "lower_case_table_names": "0", "max_allowed_packet": "67108864",
    "max_binlog_cache_size": "18446744073709547520",
    "port": "3306", "sql_mode": "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION", "system_time_zone": "CST",
    "time_zone": "SYSTEM", "version": "8.0.23", "version_comment": "MySQL Community Server - GPL",
}  # fmt: skip
TENANT_VARS = {
    "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_checksum": "CRC32",
    "binlog_rows_query_log_events": "OFF", "log_bin": "ON", "binlog_cache_size": "32768",
    "version": ODP_VERSION, "version_comment": "OceanBase_CE 4.2.1.2",
}  # fmt: skip


class Variables:
    """
    Global variables for one front.

    :param store: the binlog store (GTID sets, uuid)
    :param server_id: the instance's server id
    :param front: ``odp`` or ``direct``
    """

    def __init__(self, store: BinlogStore, server_id: int, front: str) -> None:
        self.store, self.server_id, self.front = store, server_id, front

    @property
    def handshake_version(self) -> str:
        """The server version of the greeting."""
        return ODP_VERSION if self.front == "odp" else DIRECT_VERSION

    def table(self) -> dict[str, str]:
        """All global variables of this front."""
        instance = {
            "server_id": str(self.server_id), "server_uuid": self.store.uuid,
            "master_server_uuid": self.store.uuid,
            "max_binlog_size": str(self.store.max_size), "binlog_expire_logs_seconds": "64800",
            "gtid_executed": self.store.gtid_executed(), "gtid_purged": self.store.gtid_purged(),
        }  # fmt: skip
        out = {**SYS_VARS, **instance}
        if self.front == "odp":
            out.update(TENANT_VARS)
        return out

    def get(self, name: str) -> str | None:
        """The value of global ``name`` (any case), or None when unknown."""
        return self.table().get(name.lower())

    def like(self, pattern: str | None) -> list[tuple[str, str]]:
        """``SHOW VARIABLES [LIKE p]``: odp matches ``%``/``_`` as MySQL; direct takes the name literally."""
        table = self.table()
        if pattern is None:
            return sorted(table.items())
        if self.front == "direct":
            name = pattern.lower()
            return [(name, table[name])] if name in table else []
        glob = pattern.lower().replace("%", "*").replace("_", "?")
        return sorted((k, v) for k, v in table.items() if fnmatch.fnmatchcase(k, glob))
