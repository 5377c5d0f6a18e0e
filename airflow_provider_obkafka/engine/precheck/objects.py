"""
Precheck rules for the synchronization objects and the project's names.

The tables, columns and batch topic names are checked by `engine.routing.plan.resolve` (the same resolution schema
and full synchronization use); this module sorts its problems into OMS's precheck items and adds the fix.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.precheck.report import Check, Finding, Status, fail, ok, warn

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow_provider_obkafka.engine.routing.plan import SyncPlan
    from airflow_provider_obkafka.models.project import SyncProject

_PROBLEM_RE = re.compile(r"^objects\[\d+\](?:\.(?P<field>\w+))?(?: (?P<table>\S+))?: ")
_FIXES = {
    "view": "only physical tables can be synchronized (OMS limit): map the view's base tables instead",
    "pattern": "correct the pattern in the project, or remove the entry",
    "missing": (
        "create the table, correct its name in the project, or grant the user SELECT on it (a table the "
        "user cannot read is invisible to it)"
    ),
    "ambiguous": "list the table by name in one entry, or exclude it from the other entries",
    "gone": (
        "nothing is required; remove the table from the project, or re-create it (or rename it back) and run a "
        "full synchronization of it (docs/ddl.md)"
    ),
    Check.SHARD_COLUMNS: (
        "name existing columns in shard_columns (OMS Shard Columns), or leave shard_columns out to use the "
        "primary key"
    ),
    Check.COLUMNS: "name existing columns in columns, or leave columns out to synchronize every column",
    Check.NEW_TOPICS: (
        "map the table to an explicit topic with an ASCII name of 3 to 64 characters, in its own entry with "
        "topic {mode: new, name: ...} or {mode: existing, name: ...}"
    ),
}
LIST_LIMIT = 12


def listed(names: Iterable[str], limit: int = LIST_LIMIT) -> str:
    """Names joined by commas, cut after `limit` with the count of the rest."""
    items = list(names)
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def classify(problem: str) -> tuple[Check, str]:
    """The precheck item of one `resolve` problem, and the fix for it."""
    match = _PROBLEM_RE.match(problem)
    field = match["field"] if match else None
    if field == "shard_columns":
        return Check.SHARD_COLUMNS, _FIXES[Check.SHARD_COLUMNS]
    if field == "columns":
        return Check.COLUMNS, _FIXES[Check.COLUMNS]
    if "batch topic" in problem:
        return Check.NEW_TOPICS, _FIXES[Check.NEW_TOPICS]
    if " is a view" in problem or " is a system view" in problem:
        return Check.TABLES, _FIXES["view"]
    if "match no physical table" in problem:
        return Check.TABLES, _FIXES["pattern"]
    if "matches the patterns of" in problem:
        return Check.TABLES, _FIXES["ambiguous"]
    return Check.TABLES, _FIXES["missing"]


def object_findings(plan: SyncPlan) -> list[Finding]:
    """Tables exist and are physical, shard and selected columns exist, tables without primary key named."""
    out = []
    for problem in plan.problems:
        check, fix = classify(problem)
        out.append(fail(check, problem, fix))
    out += [warn(Check.TABLES, text, _FIXES["gone"]) for text in plan.gone]
    failed = {finding.check for finding in out if finding.status is not Status.WARN}
    refs = [str(table.ref) for table in plan.tables]
    if Check.TABLES not in failed:
        out.append(ok(Check.TABLES, f"{len(refs)} physical table(s): {listed(refs)}"))
    if Check.SHARD_COLUMNS not in failed:
        out.append(ok(Check.SHARD_COLUMNS, _shard_text(plan)))
    chosen = [str(t.ref) for t in plan.tables if t.settings.columns is not None]
    if Check.COLUMNS not in failed:
        text = (
            f"the selected columns of {listed(chosen)} exist"
            if chosen
            else "every table synchronizes all columns"
        )
        out.append(ok(Check.COLUMNS, text))
    out += [
        warn(
            Check.NO_PRIMARY_KEY,
            warning,
            "nothing is required; add a primary key where rows must be keyed and kept in order one by one",
        )
        for warning in plan.warnings
    ]
    if not plan.warnings and plan.tables:
        out.append(ok(Check.NO_PRIMARY_KEY, f"each of the {len(refs)} table(s) found has a primary key"))
    return out


def name_findings(project: SyncProject) -> list[Finding]:
    """The names of a valid project (checked when it was read): one OK finding saying which."""
    topics = sorted(project.known_topics())
    tables = sorted({f"{e.database}.{t}" for e in project.objects for t in e.tables})
    return [
        ok(
            Check.NAMES,
            f"project name {project.name!r}, {len(tables)} table name(s) or pattern(s), {len(topics)} topic "
            f"name(s) and the checkpoint topic {project.checkpoint_topic!r} follow the naming rules",
        )
    ]


def issue_findings(issues: Sequence[Any]) -> list[Finding]:
    """The violations of an invalid project file (`ProjectIssue`s: path, value, message), one FAIL each."""
    return [
        fail(
            Check.NAMES,
            f"{issue.path}: {issue.value!r}" + (f" (line {issue.line})" if issue.line else ""),
            issue.message,
        )
        for issue in issues
    ]


def _shard_text(plan: SyncPlan) -> str:
    """Which tables are keyed by their shard columns, and which by their primary key (the default)."""
    sharded = [str(t.ref) for t in plan.tables if t.settings.shard_columns]
    others = [str(t.ref) for t in plan.tables if not t.settings.shard_columns]
    if not sharded:
        return "no table sets shard columns: each is keyed by its primary key"
    text = f"the shard columns of {listed(sharded)} exist"
    return f"{text}; {listed(others)} keyed by its primary key" if others else text
