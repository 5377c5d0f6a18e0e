"""The SQL the double answers, as obbinlog answers it (``src/binlog/sql_cmd_processor.cpp``, v4 line).

* ``SHOW BINARY LOGS`` (``ShowBinaryLogsProcessor``): ``Log_name``, ``File_size``, one row per indexed file.
* ``SHOW MASTER STATUS`` (``ShowMasterStatusProcessor``): the active file, its size, two empty columns and
  ``Executed_Gtid_Set`` (``binlog_gtid_display`` is on by default).
* ``SHOW BINLOG EVENTS [IN 'f'] [FROM p] [LIMIT [o,] n]`` (``ShowBinlogEventsProcessor``); an unknown file is
  1220 "Error when executing command SHOW BINLOG EVENTS: Could not find target binlog file." after the
  columns.
* ``SET`` (``SetVarProcessor``): ``@x``/``x``/``@@session.x`` become session variables; on the direct front a
  variable on the right is NOT evaluated, its name is stored (``Expr::get_value`` of a ``kExprVar``), so
  ``SET @master_binlog_checksum = @@global.binlog_checksum`` stores ``binlog_checksum`` and the dump then
  treats
  the checksum as off; on the odp front it is evaluated, as the OBServer would.
* ``SELECT`` (``SelectProcessor``): direct answers only the first item, in a column named ``@@name`` whatever
  the alias (reference notes §1.13), a literal gets a bare EOF; odp answers variables and literals per item.
* ``SHOW [GLOBAL|SESSION] VARIABLES [LIKE 'x']`` (``ShowVarProcessor``), see ``variables.py``.
* ``PURGE BINARY LOGS TO 'f' | BEFORE 'datetime'`` (``PurgeBinaryLogsProcessor`` on an instance connection).
* Anything else, or anything it cannot parse: an OK packet, no error (``QueryCmdProcessor::process``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from devservices.obbinlog import events as ev
from devservices.obbinlog.protocol import T_LONGLONG, T_VAR_STRING

if TYPE_CHECKING:
    from devservices.obbinlog.protocol import Conn
    from devservices.obbinlog.store import BinlogStore
    from devservices.obbinlog.variables import Variables

S, L = T_VAR_STRING, T_LONGLONG
FATAL, SHOW_EVENTS_ERROR, UNKNOWN_VAR = 1236, 1220, 1193
_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_VAR = re.compile(rf"^(@@(global\.|session\.|local\.)?|@)({_ID})$", re.I)
_ASSIGN = re.compile(
    rf"^(@@(?:global\.|session\.|local\.)?|@|global\s+|session\s+|local\s+)?({_ID})\s*:?=\s*(.+)$", re.I
)
_EVENTS = re.compile(r"^show\s+binlog\s+events(?:\s+in\s+'([^']*)')?(?:\s+from\s+(\d+))?"
                     r"(?:\s+limit\s+(\d+)(?:\s*,\s*(\d+))?)?$", re.I)  # fmt: skip
_SHOW_VARS = re.compile(r"^show\s+(global\s+|session\s+|local\s+)?variables(?:\s+like\s+'([^']*)')?$", re.I)
_PURGE = re.compile(r"^purge\s+(?:binary|master)\s+logs\s+(to|before)\s+'([^']*)'$", re.I)


class Sql:
    """
    Answers one connection's queries.

    :param conn: the client connection
    :param store: the binlog files
    :param variables: the global variables of the front
    :param session: the connection's session variables (shared with the dumper)
    """

    def __init__(self, conn: Conn, store: BinlogStore, variables: Variables, session: dict[str, str]) -> None:
        self.conn, self.store, self.vars, self.session = conn, store, variables, session
        self.direct = variables.front == "direct"

    def answer(self, query: str) -> None:
        """Dispatch one statement."""
        q = " ".join(query.strip().rstrip(";").split())
        low = q.lower()
        if low == "show binary logs":
            self.conn.result(
                [("Log_name", S), ("File_size", L)], [(f.name, f.size) for f in self.store.listing()]
            )
        elif low == "show master status":
            self._master_status()
        elif (m := _EVENTS.match(q)) is not None:
            self._binlog_events(*m.groups())
        elif (m := _SHOW_VARS.match(q)) is not None:
            self._show_variables((m.group(1) or "global").strip().lower(), m.group(2))
        elif low.startswith("set "):
            self._set(q[4:])
        elif low.startswith("select "):
            self._select(q[7:])
        elif (m := _PURGE.match(q)) is not None:
            self._purge(m.group(1).lower(), m.group(2))
        else:
            self.conn.ok()

    def _master_status(self) -> None:
        """The active file and its size, with the executed GTID set."""
        cur = self.store.listing()[-1]
        cols = [
            ("File", S),
            ("Position", L),
            ("Binlog_Do_DB", S),
            ("Binlog_Ignore_DB", S),
            ("Executed_Gtid_Set", S),
        ]
        self.conn.result(cols, [(cur.name, cur.size, "", "", self.store.gtid_executed())])

    def _binlog_events(self, file: str | None, start: str | None, a: str | None, b: str | None) -> None:
        """One row per event of one file, from ``FROM`` on, after ``LIMIT offset, count``."""
        cols = [
            ("Log_name", S),
            ("Pos", L),
            ("Event_type", S),
            ("Server_id", S),
            ("End_log_pos", L),
            ("Info", S),
        ]
        self.conn.columns(cols)
        info = self.store.find(file) if file else self.store.listing()[0]
        if info is None:
            msg = "Error when executing command SHOW BINLOG EVENTS: Could not find target binlog file."
            self.conn.err(SHOW_EVENTS_ERROR, msg)
            return
        offset, limit = (int(a), int(b)) if b is not None else (0, int(a) if a else None)
        data = self.store.path(info.name).read_bytes()[: info.size]
        rows, pos = [], int(start or 4)
        while pos + ev.HEADER_LEN <= len(data) and (limit is None or len(rows) < offset + limit):
            ts, etype, sid, length, end, _flags = ev.header(data, pos)
            rows.append((info.name, pos, ev.EVENT_NAMES.get(etype, str(etype)), sid, end,
                         describe(etype, data[pos + ev.HEADER_LEN : pos + length - 4])))  # fmt: skip
            pos += length
        self.conn.rows(rows[offset:])

    def _show_variables(self, level: str, pattern: str | None) -> None:
        """``SHOW VARIABLES``: global table; direct answers one literal name or an error."""
        cols = [("Variable_name", S), ("Value", S)]
        if level == "session" and self.direct:
            self.conn.columns(cols)
            name = (pattern or "").lower()
            if self.vars.get(name) is not None:
                self.conn.err(FATAL, f"Variable '{name}' is a GLOBAL variable ")
            else:
                self.conn.rows(
                    [(name, self.session.get(name, ""))] if pattern else sorted(self.session.items())
                )
            return
        rows = self.vars.like(pattern)
        if self.direct and pattern is not None and not rows:
            self.conn.columns(cols)
            self.conn.err(FATAL, f"Unknown system variable {pattern.lower()}")
            return
        self.conn.result(cols, rows)

    def _set(self, text: str) -> None:
        """Store session variables; a statement it cannot parse is answered OK and ignored."""
        for part in split_top(text):
            m = _ASSIGN.match(part.strip())
            if m is None:
                break
            kind, name, value = (
                (m.group(1) or "").strip().lower(),
                m.group(2).lower(),
                self._value(m.group(3)),
            )
            if kind in ("@@", "@@global.", "global") and name == "server_uuid":
                self.conn.err(FATAL, "Variable 'server_uuid' is a read only variable")
                return
            if kind in ("", "@", "@@session.", "session") and value is not None:
                self.session[name] = value
        self.conn.ok()

    def _value(self, text: str) -> str | None:
        """A SET right-hand side: literal text, or a variable (its name on the direct front)."""
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        if re.fullmatch(r"-?\d+", text):
            return str(int(text))
        m = _VAR.match(text)
        if m is None:
            return "NULL" if text.upper() == "NULL" else None
        if self.direct:
            return m.group(3)
        return self.session.get(m.group(3).lower()) if m.group(1) == "@" else self.vars.get(m.group(3))

    def _select(self, text: str) -> None:
        """``SELECT`` of variables or literals."""
        items = split_top(text)
        if self.direct:
            self._select_direct(items[0].strip())
            return
        names, values = [], []
        for item in items:
            m = re.match(r"^(.+?)(?:\s+as\s+(\S+))?$", item.strip(), re.I)
            expr, alias = m.group(1), m.group(2)
            value = self._odp_value(expr)
            if isinstance(value, Exception):
                self.conn.err(UNKNOWN_VAR, str(value), "HY000")
                return
            names.append((alias.strip("`'\"") if alias else expr, S))
            values.append(value)
        self.conn.result(names, [values])

    def _odp_value(self, expr: str) -> str | None | Exception:
        """A variable or literal as the OBServer evaluates it (errors returned, not raised)."""
        m = _VAR.match(expr)
        if m is not None:
            if m.group(1) == "@":
                return self.session.get(m.group(3).lower())
            value = self.vars.get(m.group(3))
            return Exception(f"Unknown system variable '{m.group(3)}'") if value is None else value
        literal = self._value(expr)
        return (
            Exception("the obbinlog test double answers only variables and literals")
            if literal is None
            else literal
        )

    def _select_direct(self, item: str) -> None:
        """obbinlog: first item only, column ``@@name``/``@name``; a non-variable gets a bare EOF."""
        m = _VAR.match(re.split(r"\s+as\s+", item, flags=re.I)[0].strip())
        if m is None:
            self.conn.eof()
            return
        name, is_global = m.group(3).lower(), m.group(1).lower() in ("@@", "@@global.")
        self.conn.columns([(("@@" if is_global else "@") + name, S)])
        value = self.vars.get(name)
        if is_global and value is None:
            self.conn.err(FATAL, f"Unknown system variable {name}")
        elif not is_global and value is not None:
            self.conn.err(FATAL, f"Variable '{name}' is a GLOBAL variable ")
        else:
            self.conn.rows([(value if is_global else self.session.get(name, ""),)])

    def _purge(self, how: str, arg: str) -> None:
        """``PURGE BINARY LOGS TO 'f'`` (f included, as obbinlog does) or ``BEFORE 'YYYY-MM-DD HH:MM:SS'``."""
        if how == "to":
            error = self.store.purge_to(arg)
            if error:
                self.conn.err(FATAL, error)
                return
        else:
            when = dt.datetime.strptime(arg, "%Y-%m-%d %H:%M:%S")
            self.store.purge_before(int(when.timestamp()))
        self.conn.ok()


def split_top(text: str) -> list[str]:
    """Split on commas outside quotes and parentheses."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    return [*parts, "".join(cur)]


def describe(etype: int, body: bytes) -> str:
    """The ``Info`` column of SHOW BINLOG EVENTS for the events the double writes."""
    if etype == ev.QUERY:
        db_len, status_len = body[8], int.from_bytes(body[11:13], "little")
        return body[13 + status_len + db_len + 1 :].decode(errors="replace")
    if etype == ev.ROTATE:
        return f"{body[8:].decode()};pos={int.from_bytes(body[:8], 'little')}"
    if etype == ev.XID:
        return f"COMMIT /* xid={int.from_bytes(body[:8], 'little')} */"
    if etype == ev.FORMAT_DESCRIPTION:
        return f"Server ver: {body[2:52].rstrip(bytes(1)).decode()}, Binlog ver: 4"
    if etype == ev.GTID:
        import uuid

        gno = int.from_bytes(body[17:25], "little")
        return f"SET @@SESSION.GTID_NEXT= '{uuid.UUID(bytes=body[1:17])}:{gno}'"
    if etype == ev.PREVIOUS_GTIDS:
        sets = ev.parse_previous_gtids(body)
        return ",".join(f"{k}:" + ":".join(f"{a}-{b - 1}" for a, b in v) for k, v in sets.items() if v)
    return ""
