"""
Reading a query's rows off a server-side cursor for `OceanBaseHook.stream_batches`: the text temporal
conversions, lifting OceanBase's statement timeout, and closing a stream that was not read to its end.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE
from pymysql.converters import conversions

if TYPE_CHECKING:
    from pymysql.connections import Connection

__all__ = ["ER_UNKNOWN_SYSTEM_VARIABLE", "STREAM_QUERY_TIMEOUT_US", "TEXT_TEMPORAL_CONVERSIONS"]


def _trimmed(text: str) -> str:
    """Server text of DATETIME or TIME with the fraction's trailing zeros (and a bare dot) removed."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _timestamp(text: str) -> datetime | str:
    """TIMESTAMP text as a naive datetime in the session's zone; the zero value stays text."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


# pymysql parses DATETIME, TIME and DATE in Python, which dominates the cost of reading a row. For bulk reads
# DATE, TIME and DATETIME stay the server's text (trailing fraction zeros removed, which is how they are
# rendered anyway) and TIMESTAMP goes through the C parser.
STREAM_QUERY_TIMEOUT_US = 7 * 24 * 3600 * 1_000_000  # a week: longer than any chunk should stream
ER_UNKNOWN_SYSTEM_VARIABLE = 1193
TEXT_TEMPORAL_CONVERSIONS = {
    **conversions,
    FIELD_TYPE.DATE: str,
    FIELD_TYPE.TIME: _trimmed,
    FIELD_TYPE.DATETIME: _trimmed,
    FIELD_TYPE.TIMESTAMP: _timestamp,
}


def _lift_query_timeout(cur: pymysql.cursors.Cursor) -> None:
    """
    OceanBase ends any statement after `ob_query_timeout` (10 s by default), a streamed chunk included; the
    session gets `STREAM_QUERY_TIMEOUT_US` instead. MySQL and MariaDB have no such variable (error 1193).
    """
    try:
        cur.execute(f"SET SESSION ob_query_timeout = {STREAM_QUERY_TIMEOUT_US}")
    except (pymysql.err.OperationalError, pymysql.err.InternalError) as exc:
        if exc.args[0] != ER_UNKNOWN_SYSTEM_VARIABLE:
            raise


def _close_stream(conn: Connection, cur: pymysql.cursors.SSCursor, drained: bool) -> None:
    """
    Close a streaming cursor and its connection. A result not read to its end is dropped with the socket:
    pymysql would otherwise read (and discard) every remaining row of it first.
    """
    if drained:
        cur.close()
        conn.close()
        return
    internals: Any = conn  # _result and _force_close: not in pymysql's stubs
    if internals._result is not None:  # detach the unread result so no close() or __del__ tries to drain it
        internals._result.unbuffered_active = False
    internals._result = None
    with contextlib.suppress(Exception):
        internals._force_close()
