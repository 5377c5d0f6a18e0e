"""
SHOW GRANTS parsed (MySQL, MariaDB and OceanBase spellings): which privileges a user holds on what.

Roles are noted but not expanded: SHOW GRANTS without USING does not list what a role gives.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

_IDENT = r"`(?:[^`]|``)*`|'(?:[^']|'')*'|\*|[^.\s`']+"
_GRANT_RE = re.compile(
    r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE(?:\s+BODY)?)\s+)?"
    rf"(?P<db>{_IDENT})\.(?P<table>{_IDENT})\s+TO\s",
    re.IGNORECASE | re.DOTALL,
)
_ROLE_RE = re.compile(r"^GRANT\s+(?:(?!\sON\s).)+\sTO\s", re.IGNORECASE | re.DOTALL)
_ALL = {"ALL", "ALL PRIVILEGES"}


class Grant(NamedTuple):
    """One `GRANT privileges ON db.table` line: privileges (upper case), column-level ones, and the object."""

    privileges: frozenset[str]
    column_privileges: frozenset[str]
    database: str  # `*` for every database, else a MySQL pattern (`_`, `%` wildcards; `\_` a literal)
    table: str  # `*` for every table

    def covers(self, privilege: str, database: str, table: str | None = None) -> bool:
        """True when this grant gives `privilege` on `database` (all of it, when `table` is None)."""
        if not (self.privileges & _ALL or privilege in self.privileges):
            return False
        if self.database != "*" and not _db_pattern(self.database).fullmatch(database):
            return False
        return self.table == "*" or (table is not None and self.table == table)


class Grants(NamedTuple):
    """The parsed SHOW GRANTS of a user: object grants, and whether roles are granted (not expanded here)."""

    grants: tuple[Grant, ...]
    has_roles: bool

    def has(self, privileges: Sequence[str], database: str = "*", table: str | None = None) -> bool:
        """True when any of `privileges` is granted on `database` (`*`: globally) or on `database.table`."""
        grants = self.grants if database != "*" else tuple(g for g in self.grants if g.database == "*")
        return any(g.covers(p, database, table) for g in grants for p in privileges)

    def column_only(self, database: str, table: str) -> bool:
        """True when SELECT on the table is granted for some columns only."""
        return any(
            "SELECT" in g.column_privileges and g.table == table and g.database == database
            for g in self.grants
        )


def parse_grants(lines: Iterable[str]) -> Grants:
    """Parse SHOW GRANTS lines (MySQL, MariaDB and OceanBase spellings); lines of other kinds are skipped."""
    grants: list[Grant] = []
    has_roles = False
    for line in lines:
        match = _GRANT_RE.match(line.strip())
        if match is None:
            has_roles = has_roles or bool(_ROLE_RE.match(line.strip()))
            continue
        table_level, column_level = _privileges(match["privs"])
        grants.append(Grant(table_level, column_level, _unquote(match["db"]), _unquote(match["table"])))
    return Grants(tuple(grants), has_roles)


def _privileges(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Split `SELECT, INSERT (a, b), REPLICATION SLAVE` into table-level and column-level privileges."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    table_level: set[str] = set()
    column_level: set[str] = set()
    for part in parts:
        name = " ".join(part.split("(")[0].split()).upper()
        (column_level if "(" in part else table_level).add(name)
    return frozenset(table_level), frozenset(column_level)


def _unquote(ident: str) -> str:
    if len(ident) >= 2 and ident[0] == ident[-1] and ident[0] in "`'":
        return ident[1:-1].replace(ident[0] * 2, ident[0])
    return ident


def _db_pattern(pattern: str) -> re.Pattern[str]:
    """A database name in a GRANT as a regex: `_` and `%` are wildcards, `\\_` and `\\%` literals."""
    out, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out += re.escape(pattern[index + 1])
            index += 2
            continue
        out += "." if char == "_" else ".*" if char == "%" else re.escape(char)
        index += 1
    return re.compile(out, re.DOTALL)
