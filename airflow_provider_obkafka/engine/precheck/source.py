"""
Precheck rules for the source node, on facts already fetched: the server, the user's privileges (parsed from
SHOW GRANTS), the Binlog Service's settings, the tables and columns the project maps, the start timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_obkafka.engine.precheck.grants import parse_grants
from airflow_provider_obkafka.engine.precheck.report import Check, Finding, fail, ok, warn

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from airflow_provider_obkafka.engine.precheck.grants import Grants

REPLICATION_SLAVE = ("REPLICATION SLAVE",)
DEFAULT_UNDO_RETENTION_S = 1800
# MariaDB 10.5+ calls REPLICATION CLIENT "BINLOG MONITOR"; SUPER lets MySQL 5.7 read SHOW MASTER STATUS.
REPLICATION_CLIENT = ("REPLICATION CLIENT", "BINLOG MONITOR", "SUPER")


class SourceFacts(NamedTuple):
    """What the source's SQL endpoint told about itself and the connected user."""

    endpoint: str
    version: str
    version_comment: str
    is_oceanbase: bool
    user: str
    grants: tuple[str, ...] | None
    grants_error: str = ""
    undo_retention_s: int | None = None


class BinlogFacts(NamedTuple):
    """What the change-log endpoint answered: its position (or why none), its variables, the user's grants."""

    endpoint: str
    position: str | None
    position_error: str
    variables: Mapping[str, str]
    grants: tuple[str, ...] | None
    gtid_set: str | None = None


def source_findings(facts: SourceFacts, full_sync: bool) -> list[Finding]:
    """Which server answered: OceanBase, or a MySQL-compatible server (named)."""
    said = f"{facts.version} ({facts.version_comment})" if facts.version_comment else facts.version
    if facts.is_oceanbase:
        return [ok(Check.SOURCE, f"OceanBase answers at {facts.endpoint} as {facts.user}: {said}")]
    found = f"a MySQL-compatible server, not OceanBase, answers at {facts.endpoint} as {facts.user}: {said}"
    if not full_sync:
        return [ok(Check.SOURCE, found)]
    return [
        warn(
            Check.SOURCE,
            found + "; full synchronization cannot read it AS OF one snapshot (no current_scn())",
            "nothing to do for a test or MySQL source: changes made during the full synchronization are "
            "caught up by incremental synchronization; for one consistent snapshot use OceanBase",
        )
    ]


def snapshot_findings(facts: SourceFacts) -> list[Finding]:
    """
    OceanBase keeps a snapshot readable (`AS OF SNAPSHOT`) for `undo_retention` seconds: a full
    synchronization that runs longer fails with "snapshot too old". Said when full sync reads OceanBase.
    """
    if not facts.is_oceanbase or facts.undo_retention_s is None:
        return []
    seconds = facts.undo_retention_s
    found = (
        f"undo_retention is {seconds} s: every chunk of a full synchronization reads AS OF its start "
        f"snapshot, so the full synchronization must finish within {seconds} s"
    )
    fix = (
        "raise it for the length of the full synchronization (ALTER SYSTEM SET undo_retention = 7200), "
        "or add workers so the chunks finish sooner"
    )
    if seconds < DEFAULT_UNDO_RETENTION_S:
        return [
            warn(Check.SNAPSHOT, found + f", less than OceanBase's default {DEFAULT_UNDO_RETENTION_S} s", fix)
        ]
    return [ok(Check.SNAPSHOT, found)]


def select_findings(
    facts: SourceFacts, tables: Mapping[str, Collection[str]], patterns: set[str]
) -> list[Finding]:
    """
    SELECT on every mapped database or table. `tables` maps each database to the tables the project names or
    resolved there; `patterns` holds the databases where a pattern selects tables.
    """
    if facts.grants is None:
        return [
            warn(
                Check.PRIVILEGES,
                f"SHOW GRANTS for {facts.user} could not be read: {facts.grants_error}",
                "check by hand that the user has SELECT on the mapped databases",
            )
        ]
    grants = parse_grants(facts.grants)
    lacking = _lacking_select(grants, tables, patterns)
    if not lacking:
        return [
            ok(Check.PRIVILEGES, f"{facts.user} has SELECT on {', '.join(sorted(tables)) or 'no database'}")
        ]
    found = f"{facts.user} lacks SELECT on {', '.join(lacking)}"
    fix = "GRANT SELECT ON <database>.* TO " + facts.user + " for each database named (OMS: the source user "
    fix += "needs read access to the synchronized objects)"
    if grants.has_roles:
        return [
            warn(
                Check.PRIVILEGES,
                found + "; roles are granted too, and SHOW GRANTS does not expand them",
                "make sure the roles are active by default and give SELECT, or " + fix,
            )
        ]
    return [fail(Check.PRIVILEGES, found, fix)]


def _lacking_select(grants: Grants, tables: Mapping[str, Collection[str]], patterns: set[str]) -> list[str]:
    """The mapped databases and tables the grants give no SELECT on, each as the message names it."""
    lacking: list[str] = []
    for database, names in sorted(tables.items()):
        if grants.has(("SELECT",), database):
            continue
        if database in patterns:
            lacking.append(f"{database}.* (table patterns need SELECT on the whole database)")
        lacking += [
            f"{database}.{t}" + (" (SELECT on some columns only)" if grants.column_only(database, t) else "")
            for t in sorted(names)
            if not grants.has(("SELECT",), database, t)
        ]
    return lacking


def binlog_findings(facts: BinlogFacts, user: str) -> list[Finding]:
    """The change-log endpoint answers, binlog in ROW format with full row images, REPLICATION privileges."""
    out = []
    if facts.position is None:
        out.append(fail(Check.BINLOG, f"{facts.endpoint}: {facts.position_error}", _NO_BINLOG))
    wanted = {"binlog_format": "ROW", "binlog_row_image": "FULL"}
    bad = []
    for name, value in wanted.items():
        have = facts.variables.get(name)
        if have is None:
            out.append(
                warn(
                    Check.BINLOG,
                    f"{facts.endpoint} does not report {name}",
                    f"make sure {name}={value}: incremental synchronization needs it",
                )
            )
        elif have.upper() != value:
            bad.append(f"{name}={have}")
            out.append(
                fail(
                    Check.BINLOG,
                    f"{facts.endpoint} has GLOBAL {name}={have}, not {value}",
                    _VARIABLE_FIX.format(name=name, value=value, why=_WHY[name]),
                )
            )
    if facts.position is not None and not bad and len(out) == 0:
        out.append(
            ok(
                Check.BINLOG,
                f"{facts.endpoint} answers at {facts.position}; binlog_format=ROW, binlog_row_image=FULL",
            )
        )
    return out + _replication_findings(facts, user)


def gtid_findings(facts: BinlogFacts, resume_by: str) -> list[Finding]:
    """With `incremental.resume_by: gtid`: the endpoint reports an executed GTID set to resume by."""
    if resume_by != "gtid" or facts.position is None:
        return []
    if facts.gtid_set:
        return [ok(Check.BINLOG, f"{facts.endpoint} reports an executed GTID set: checkpoints resume by it")]
    return [
        warn(
            Check.BINLOG,
            f"incremental.resume_by is gtid, but {facts.endpoint} reports no executed GTID set at "
            f"{facts.position}: checkpoints will carry none, and the sync resumes by file position",
            "turn GTID mode on for the Binlog Service (MySQL: gtid_mode=ON, enforce_gtid_consistency=ON), "
            "or set incremental.resume_by: position",
        )
    ]


def _replication_findings(facts: BinlogFacts, user: str) -> list[Finding]:
    if facts.grants is None:
        return [
            warn(
                Check.BINLOG_PRIVILEGES,
                f"SHOW GRANTS for {user} is not answered at {facts.endpoint}",
                "make sure the user has REPLICATION SLAVE and REPLICATION CLIENT",
            )
        ]
    grants = parse_grants(facts.grants)
    missing = [
        privileges[0] for privileges in (REPLICATION_SLAVE, REPLICATION_CLIENT) if not grants.has(privileges)
    ]
    if not missing:
        return [ok(Check.BINLOG_PRIVILEGES, f"{user} has REPLICATION SLAVE and REPLICATION CLIENT")]
    found = f"{user} lacks {' and '.join(missing)} (global privileges) at {facts.endpoint}"
    fix = f"GRANT {', '.join(missing)} ON *.* TO {user} (needed to read the change log: REPLICATION SLAVE "
    fix += (
        "streams it, REPLICATION CLIENT reads its position; MariaDB 10.5+ shows the latter as BINLOG MONITOR)"
    )
    if grants.has_roles:
        return [warn(Check.BINLOG_PRIVILEGES, found + "; roles are granted too, not expanded here", fix)]
    return [fail(Check.BINLOG_PRIVILEGES, found, fix)]


def start_findings(start: datetime, earliest: datetime | None, position: str | None) -> list[Finding]:
    """The incremental start timestamp is within the change log's reach."""
    start = _aware(start)
    if earliest is None:
        return [
            fail(
                Check.START_TIMESTAMP,
                f"the change log holds no event to start from at {start.isoformat()}",
                "start later (leave start_timestamp out to start now), or add full synchronization",
            )
        ]
    earliest = _aware(earliest)
    if start < earliest:
        return [
            fail(
                Check.START_TIMESTAMP,
                f"start {start.isoformat()} is before the earliest event still in the change log "
                f"({earliest.isoformat()}): the changes in between are gone",
                f"choose a start at or after {earliest.isoformat()}, or add 'full' to sync_types to take a "
                "snapshot "
                "first; keep the logs longer (binlog_expire_logs_seconds, the Binlog Service's retention)",
            )
        ]
    where = f"; reading starts at {position}" if position else ""
    return [
        ok(
            Check.START_TIMESTAMP,
            f"start {start.isoformat()} is within the change log, which reaches back "
            f"to {earliest.isoformat()}{where}",
        )
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


_NO_BINLOG = (
    "OceanBase: enable the Binlog Service for the tenant (obbinlog: CREATE BINLOG FOR TENANT ...) and set "
    "the connection's Binlog Service host/port to ODP (usually 2883); MySQL/MariaDB: start the server with "
    "log_bin"
)
_VARIABLE_FIX = (
    "SET GLOBAL {name} = '{value}' and put it in the server's configuration so it survives a restart "
    "(sessions opened before keep the old value){why}"
)
_WHY = {
    "binlog_format": "; STATEMENT or MIXED logging carries no row changes to synchronize",
    "binlog_row_image": "; without full images, updates and deletes lack the column values messages carry",
}
