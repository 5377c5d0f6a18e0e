"""OceanBaseHook: a DB-API hook on pymysql for OceanBase (MySQL mode) and its Binlog Service."""

from __future__ import annotations

import contextlib
from fnmatch import fnmatchcase
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors
from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_obkafka.exceptions import CapabilityError, SchemaError
from airflow_provider_obkafka.hooks import ob_metadata
from airflow_provider_obkafka.hooks.oceanbase_stream import (
    TEXT_TEMPORAL_CONVERSIONS,
    _close_stream,
    _lift_query_timeout,
)
from airflow_provider_obkafka.hooks.raw_rows import read_bytes_rows
from airflow_provider_obkafka.models.extras import ObConnExtras, ObLogin
from airflow_provider_obkafka.models.position import BinlogPosition, SnapshotPoint
from airflow_provider_obkafka.models.tls import connect_mysql

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from pymysql.connections import Connection

    from airflow_provider_obkafka.models.schema import TableRef, TableSchema

__all__ = ["OceanBaseHook"]


class OceanBaseHook(DbApiHook):
    """
    Talks to OceanBase (MySQL mode) or any MySQL-compatible server, and to its Binlog Service.

    The login may be a plain user, `user@tenant` or `user@tenant#cluster` (OceanBase through ODP).

    :param ob_conn_id: id of an Airflow connection of type `oceanbase`
    :param database: database to use instead of the connection's schema
    :param session_time_zone: `SET time_zone` for every session this hook opens (None: the server's)
    """

    conn_name_attr = "ob_conn_id"
    default_conn_name = "oceanbase_default"
    conn_type = "oceanbase"
    hook_name = "OceanBase"
    supports_autocommit = True
    _test_connection_sql = "SELECT 1"

    def __init__(
        self, *args: Any, database: str | None = None, session_time_zone: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.database = database
        self.session_time_zone = session_time_zone

    @cached_property
    def extras(self) -> ObConnExtras:
        """The connection's extras, validated once."""
        return ObConnExtras.from_extra(self.connection.extra_dejson, self.get_conn_id())

    @cached_property
    def login(self) -> ObLogin:
        """The connection's login split into user, tenant and cluster."""
        return ObLogin.parse(self.connection.login or "root")

    def _connect_kwargs(self, host: str, port: int) -> dict[str, Any]:
        conn = self.connection
        kwargs: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": conn.login or "root",
            "password": conn.password or "",
            "database": self.database or conn.schema or None,
            "charset": self.extras.charset,
            "connect_timeout": self.extras.connect_timeout,
            "read_timeout": self.extras.read_timeout,
            "ssl": tls.model_dump() if (tls := self.extras.tls()) else None,
            "autocommit": True,
        }
        if self.session_time_zone:
            kwargs["init_command"] = f"SET time_zone = '{self.session_time_zone}'"
        return kwargs

    def get_conn(
        self, cursorclass: type[pymysql.cursors.Cursor] | None = None, conv: dict[Any, Any] | None = None
    ) -> Connection:
        """A new pymysql connection to the SQL endpoint (the caller closes it)."""
        conn = self.connection
        kwargs = self._connect_kwargs(conn.host or "127.0.0.1", conn.port or 2881)
        if cursorclass is not None:
            kwargs["cursorclass"] = cursorclass
        if conv is not None:
            kwargs["conv"] = conv
        return connect_mysql(**kwargs)

    def get_binlog_conn(self) -> Connection:
        """A new pymysql connection to the Binlog Service endpoint (the connection's own by default)."""
        host, port = self.binlog_endpoint()
        kwargs = self._connect_kwargs(host, port)
        kwargs["database"] = None
        return connect_mysql(**kwargs)

    def binlog_endpoint(self) -> tuple[str, int]:
        """Host and port of the Binlog Service: the extras, else the connection's own."""
        conn = self.connection
        return (self.extras.binlog_host or conn.host or "127.0.0.1", self.extras.binlog_port or conn.port or 2881)

    def binlog_connection_settings(self) -> dict[str, Any]:
        """
        Keyword arguments a replication client (`engine.binlog.wire.DumpStream`) needs to reach the endpoint:
        JSON-safe: TLS is a `TlsSettings` dump, its context built at connect time (`models.tls.connect_mysql`).
        """
        host, port = self.binlog_endpoint()
        kwargs = self._connect_kwargs(host, port)
        settings = {key: kwargs[key] for key in ("host", "port", "user", "password", "charset")}
        if kwargs["ssl"]:
            settings["ssl"] = kwargs["ssl"]
        return settings

    def test_connection(self) -> tuple[bool, str]:  # type: ignore[override]  # common-sql's .pyi says None
        """Connect, and say what server answered."""
        try:
            info = self.server_info()
        except Exception as exc:
            return False, str(exc)
        kind = "OceanBase" if info.is_oceanbase else "MySQL-compatible server"
        return True, f"Connection successful: {kind} {info.version_comment or info.version}"

    def server_info(self) -> ob_metadata.ServerInfo:
        """Version, version comment, and whether the server is OceanBase."""
        with contextlib.closing(self.get_conn()) as conn, conn.cursor() as cur:
            return ob_metadata.read_server_info(cur)

    def list_tables(
        self,
        databases: Iterable[str],
        include: Sequence[str] = ("*",),
        exclude: Sequence[str] = (),
    ) -> list[TableRef]:
        """
        The physical tables of `databases` whose names match a pattern of `include` and none of `exclude`.

        Patterns are shell globs (`*`, `?`, `[...]`) matched case-sensitively. Views, system views and
        other non-table objects are never returned. Tables are sorted by database, then name.
        """
        names = list(databases)
        if not names:
            return []
        with contextlib.closing(self.get_conn()) as conn, conn.cursor() as cur:
            found = ob_metadata.read_base_tables(cur, names)
        return [
            ref
            for ref in found
            if any(fnmatchcase(ref.table, p) for p in include)
            and not any(fnmatchcase(ref.table, p) for p in exclude)
        ]

    def describe_table(self, database: str, table: str) -> TableSchema:
        """Columns in order (type, length, precision, scale, unsigned, nullable, charset, default,
        generated-ness), primary key and unique keys of one physical table."""
        with contextlib.closing(self.get_conn()) as conn, conn.cursor() as cur:
            kind = ob_metadata.read_table_type(cur, database, table)
            if kind is None:
                raise SchemaError(f"table {database}.{table} does not exist (or the user cannot see it)")
            if kind != "BASE TABLE":
                raise SchemaError(
                    f"{database}.{table} is a {kind.lower()}, not a physical table: only physical tables "
                    "can be synchronized; map its base tables instead"
                )
            return ob_metadata.read_table_schema(cur, database, table)

    def current_scn(self) -> int:
        """OceanBase's current SCN (`current_scn()`), the point `AS OF SNAPSHOT` reads use."""
        with contextlib.closing(self.get_conn()) as conn, conn.cursor() as cur:
            info = ob_metadata.read_server_info(cur)
            if not info.is_oceanbase:
                raise CapabilityError(
                    f"connection {self.get_conn_id()!r} reaches {info.version_comment or info.version}, "
                    "which is not OceanBase: it has no current_scn() and no AS OF SNAPSHOT reads"
                )
            cur.execute("SELECT current_scn()")
            return int(cur.fetchall()[0][0])

    def binlog_position(self, *, consistent: bool = False) -> BinlogPosition:
        """
        The binlog position (file, offset, GTID set) the Binlog Service endpoint reports now. With
        `consistent`, on MariaDB, the position of a consistent snapshot instead (see
        `ob_metadata.read_snapshot_binlog_position`): every transaction before it is visible to later reads.
        """
        host, port = self.binlog_endpoint()
        try:
            conn = self.get_binlog_conn()
        except pymysql.err.OperationalError as exc:
            raise CapabilityError(f"no Binlog Service answers at {host}:{port}: {exc}") from exc
        with contextlib.closing(conn), conn.cursor() as cur:
            position = ob_metadata.read_binlog_position(cur, f"{host}:{port}")
            return (consistent and ob_metadata.read_snapshot_binlog_position(cur, position)) or position

    def snapshot_point(self, *, require_scn: bool = False, require_binlog: bool = False) -> SnapshotPoint:
        """
        The current snapshot point: the binlog position first (it may lag, so it is early, which is safe;
        on MariaDB the position of a consistent snapshot, so no transaction before it is still invisible),
        then the SCN. A capability that is required but missing raises CapabilityError naming it; one that
        is not required is left empty.
        """
        binlog = scn = None
        missing: list[str] = []
        try:
            binlog = self.binlog_position(consistent=True)
        except CapabilityError as exc:
            if require_binlog:
                missing.append(str(exc))
        try:
            scn = self.current_scn()
        except CapabilityError as exc:
            if require_scn:
                missing.append(str(exc))
        if not missing and scn is None and binlog is None:
            missing.append("the server is not OceanBase (no current_scn()) and no binlog endpoint answers")
        if missing:
            raise CapabilityError("no snapshot point: " + "; ".join(missing))
        return SnapshotPoint(scn=scn, binlog=binlog)

    def stream_batches(
        self,
        sql: str,
        parameters: Sequence[Any] | None = None,
        batch_size: int = 5000,
        temporal_as_text: bool = False,
        bytes_rows: bool = False,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """
        Rows of a query in lists of up to `batch_size`, read with a server-side cursor.

        The server streams the result; this process holds one batch at a time, so memory stays flat
        on any table size. Closing the generator early closes the connection without draining it.
        With `temporal_as_text`, DATE, TIME and DATETIME values are the server's text (fraction without
        trailing zeros) and TIMESTAMP a naive datetime, which reads rows about twice as fast.
        With `bytes_rows`, for a query whose every column is a binary string, rows are parsed straight off
        the socket (`hooks.raw_rows`), about twice as fast again; values are bytes or None.
        """
        conv = TEXT_TEMPORAL_CONVERSIONS if temporal_as_text else None
        conn = self.get_conn(cursorclass=pymysql.cursors.SSCursor, conv=conv)
        cur = conn.cursor(pymysql.cursors.SSCursor)
        finished = False
        try:
            _lift_query_timeout(cur)
            cur.execute(sql, parameters)
            if bytes_rows:
                yield from read_bytes_rows(cur, batch_size)
            else:
                while batch := cur.fetchmany(batch_size):
                    yield batch  # type: ignore[misc]  # SSCursor.fetchmany returns a list; pymysql's stubs say tuple
            finished = True
        finally:
            _close_stream(conn, cur, drained=finished)

    def stream_rows(self, sql: str, parameters: Sequence[Any] | None = None) -> Iterator[tuple[Any, ...]]:
        """Rows of a query one at a time, read with a server-side cursor (see `stream_batches`)."""
        for batch in self.stream_batches(sql, parameters):
            yield from batch
