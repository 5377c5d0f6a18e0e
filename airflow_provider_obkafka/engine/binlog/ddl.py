"""
DDL recognition in query events of the change log: which tables a statement alters, creates, drops,
renames or truncates, so the reader can follow a table's schema and notice a table renamed out of scope.
Regular expressions over MySQL/OceanBase DDL text; anything else gives no target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_provider_obkafka.models.schema import TableRef

__all__ = ["DdlTarget", "parse_ddl", "statement_head"]


@dataclass(frozen=True, slots=True)
class DdlTarget:
    """A table a DDL statement touches: the kind, the table, and the new name of a rename."""

    kind: str
    ref: TableRef
    new_ref: TableRef | None = None


_LEAD = re.compile(r"(?:\s+|/\*(?!!).*?\*/|(?:--\s|#)[^\n]*(?:\n|\Z))*", re.S)
_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QNAME = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_PART = re.compile(rf"({_NAME})(?:\s*\.\s*({_NAME}))?")
_I = re.I | re.S
_ALTER = re.compile(rf"ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?({_QNAME})(.*)", _I)
_ALTER_RENAME = re.compile(rf"\bRENAME\s+(?!(?:COLUMN|INDEX|KEY)\b)(?:TO\s+|AS\s+)?({_QNAME})", _I)
_CREATE = re.compile(
    rf"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_QNAME})", _I
)
_INDEX = re.compile(
    rf"(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+|OFFLINE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?"
    rf"|DROP\s+)INDEX\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?{_NAME}\s+(?:.*?\s)?ON\s+({_QNAME})",
    _I,
)
_DROP = re.compile(rf"DROP\s+(?:TEMPORARY\s+)?TABLES?\s+(?:IF\s+EXISTS\s+)?({_QNAME}(?:\s*,\s*{_QNAME})*)", _I)
_RENAME = re.compile(r"RENAME\s+TABLES?\s+(.*)", _I)
_RENAME_PAIR = re.compile(rf"({_QNAME})\s+TO\s+({_QNAME})", _I)
_TRUNCATE = re.compile(rf"TRUNCATE\s+(?:TABLE\s+)?({_QNAME})", _I)
_NAMES = re.compile(_QNAME)


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _ref(text: str, default_db: str) -> TableRef:
    match = _PART.fullmatch(text.strip())
    if match is None:  # pragma: no cover - _QNAME matched it already
        raise ValueError(f"not a table name: {text!r}")
    first, second = match.groups()
    return TableRef(_unquote(first), _unquote(second)) if second else TableRef(default_db, _unquote(first))


def statement_head(statement: str) -> str:
    """The statement without leading whitespace and comments (`/*!...*/` kept)."""
    return statement[_LEAD.match(statement).end() :]  # type: ignore[union-attr]


def parse_ddl(statement: str, default_db: str) -> list[DdlTarget]:
    """
    The tables a table DDL statement touches: ALTER (and CREATE/DROP INDEX), CREATE, DROP, RENAME,
    TRUNCATE. Anything else (`SET GLOBAL ...`, `GRANT`, views, unparsable text) gives an empty list.
    """
    text = statement_head(statement)
    if match := _ALTER.match(text):
        ref = _ref(match[1], default_db)
        renamed = _ALTER_RENAME.search(match[2])
        if renamed:
            return [DdlTarget("RENAME", ref, _ref(renamed[1], default_db))]
        return [DdlTarget("ALTER", ref)]
    if match := _CREATE.match(text):
        return [DdlTarget("CREATE", _ref(match[1], default_db))]
    if match := _INDEX.match(text):
        return [DdlTarget("ALTER", _ref(match[1], default_db))]
    if match := _DROP.match(text):
        return [DdlTarget("DROP", _ref(name, default_db)) for name in _NAMES.findall(match[1])]
    if match := _RENAME.match(text):
        pairs = _RENAME_PAIR.findall(match[1])
        return [DdlTarget("RENAME", _ref(a, default_db), _ref(b, default_db)) for a, b in pairs]
    if match := _TRUNCATE.match(text):
        return [DdlTarget("TRUNCATE", _ref(match[1], default_db))]
    return []


# ---------------------------------------------------------------- grouping
