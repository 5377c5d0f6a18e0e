"""
Facts the precheck needs from the source, fetched through an OceanBaseHook: the server and user with their
grants, and the change-log endpoint's position, variables and grants. The rules are in `engine.precheck_*`.
"""

from __future__ import annotations

import contextlib
import re
import socket
from typing import TYPE_CHECKING, Any

import pymysql

from airflow_provider_obkafka.engine.precheck.source import BinlogFacts, SourceFacts
from airflow_provider_obkafka.exceptions import CapabilityError
from airflow_provider_obkafka.hooks import ob_metadata

if TYPE_CHECKING:
    from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook

# Client errors a later attempt can clear: cannot connect (2002, 2003), server gone or connection lost
# (2006, 2013), too many connections (1040), server shutting down (1053).
RETRYABLE_ERRNOS = frozenset({1040, 1053, 2002, 2003, 2006, 2013})
BINLOG_VARIABLES = ("binlog_format", "binlog_row_image", "log_bin")
_PASSWORD_RE = re.compile(r"\s+IDENTIFIED\s+(?:BY|WITH|VIA)\s.*$", re.IGNORECASE | re.DOTALL)


def is_retryable(exc: BaseException) -> bool:
    """True when `exc` (or its cause) says the server is not reachable yet, not that something is wrong."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | ConnectionError | socket.timeout):
            return True
        if isinstance(seen, pymysql.err.OperationalError) and seen.args and seen.args[0] in RETRYABLE_ERRNOS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def describe_error(exc: BaseException) -> str:
    """A one-line description of a client error: `(2003) Can't connect ...` for pymysql errors."""
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}"
    return f"{type(exc).__name__}: {exc}"


def read_source(hook: OceanBaseHook) -> SourceFacts:
    """The server (version, OceanBase or not), the current user and its grants; connection errors raise."""
    conn = hook.connection
    endpoint = f"{conn.host or '127.0.0.1'}:{conn.port or 2881}"
    with contextlib.closing(hook.get_conn()) as db, db.cursor() as cur:
        info = ob_metadata.read_server_info(cur)
        cur.execute("SELECT CURRENT_USER()")
        user = str(cur.fetchall()[0][0])
        grants, error = _grants(cur)
        retention = _undo_retention(cur) if info.is_oceanbase else None
    return SourceFacts(
        endpoint, info.version, info.version_comment, info.is_oceanbase, user, grants, error, retention
    )


def _undo_retention(cur: Any) -> int | None:
    """OceanBase's `undo_retention` parameter in seconds, or None when the server does not report it."""
    try:
        cur.execute("SHOW PARAMETERS LIKE 'undo_retention'")
    except pymysql.err.MySQLError:
        return None
    rows = cur.fetchall() if cur.description else ()
    names = [column[0].lower() for column in cur.description or ()]
    values = [row[names.index("value")] for row in rows if "value" in names]
    return min(int(value) for value in values) if values else None


def read_binlog(hook: OceanBaseHook) -> BinlogFacts:
    """
    The change-log endpoint's position (or why it has none), its GLOBAL binlog variables and the user's
    grants there. Connection errors propagate. Variables are read one by one with SHOW, without aliases,
    which the OceanBase Binlog Service understands.
    """
    host, port = hook.binlog_endpoint()
    endpoint = f"{host}:{port}"
    with contextlib.closing(hook.get_binlog_conn()) as db, db.cursor() as cur:
        try:
            position = ob_metadata.read_binlog_position(cur, endpoint)
            where, error, gtid_set = f"{position.file}:{position.position}", "", position.gtid_set
        except CapabilityError as exc:
            where, error, gtid_set = None, str(exc), None
        variables = {
            name: value for name in BINLOG_VARIABLES if (value := _global_variable(cur, name)) is not None
        }
        grants, _ = _grants(cur)
    return BinlogFacts(endpoint, where, error, variables, grants, gtid_set)


def _global_variable(cur: Any, name: str) -> str | None:
    """`SHOW GLOBAL VARIABLES LIKE name`, or None when the server does not report it."""
    try:
        cur.execute(f"SHOW GLOBAL VARIABLES LIKE '{name}'")
    except pymysql.err.MySQLError:
        return None
    row = cur.fetchone() if cur.description else None
    return str(row[1]) if row else None


def _grants(cur: Any) -> tuple[tuple[str, ...] | None, str]:
    """The current user's SHOW GRANTS lines (password clauses cut off), or None and why."""
    try:
        cur.execute("SHOW GRANTS")
    except pymysql.err.MySQLError as exc:
        return None, describe_error(exc)
    rows = cur.fetchall() if cur.description else ()
    if not rows:
        return None, "the server answered SHOW GRANTS with no grants"
    return tuple(_PASSWORD_RE.sub("", str(row[0])) for row in rows), ""
