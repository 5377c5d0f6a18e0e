"""
Precheck findings and the report (OMS "Precheck"): every check a project needs, all findings at once.

A finding says what a check found and how to fix it. A FAIL that a retry can fix (a service that is not up
yet) is `retryable`; the sensor pokes again while every FAIL is retryable, and fails at once otherwise.
The rules that turn fetched facts into findings are in `engine/precheck/source.py`, `engine/precheck/kafka.py`
and `engine/precheck/topics.py`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class Status(StrEnum):
    """The outcome of one finding: OK, WARN (synchronization works, with a caveat) or FAIL."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


class Check(StrEnum):
    """The precheck items, named with OMS's words where OMS has one."""

    NAMES = "Project settings and names"
    SOURCE = "Source Node connection"
    PRIVILEGES = "Source Node privileges"
    BINLOG = "Binlog Service"
    BINLOG_PRIVILEGES = "Binlog Service privileges"
    TABLES = "Physical tables"
    SHARD_COLUMNS = "Shard Columns"
    COLUMNS = "Columns to synchronize"
    NO_PRIMARY_KEY = "Tables without primary key"
    START_TIMESTAMP = "Incremental Synchronization Start Timestamp"
    SNAPSHOT = "Full Synchronization snapshot"
    DESTINATION = "Destination Node connection"
    KAFKA_VERSION = "Kafka version"
    TRANSACTIONS = "Kafka transactions"
    TRANSACTION_TIMEOUT = "Kafka transaction timeout"
    ROW_SIZE = "Largest row and Kafka's message size limits"
    EXISTING_TOPICS = "Existing Topics"
    NEW_TOPICS = "New Topic"
    KAFKA_ACLS = "Kafka ACLs"


@dataclass(frozen=True)
class Finding:
    """
    What one check found.

    :param check: the precheck item
    :param status: OK, WARN or FAIL
    :param found: what was found, with the names and values involved
    :param fix: how to fix it ("" for OK findings that need nothing)
    :param retryable: a FAIL that a later attempt can clear without anyone acting (a service not up yet)
    """

    check: Check
    status: Status
    found: str
    fix: str = ""
    retryable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-able data."""
        return {
            "check": str(self.check),
            "status": str(self.status),
            "found": self.found,
            "fix": self.fix,
            "retryable": self.retryable,
        }


def ok(check: Check, found: str) -> Finding:
    """A passed check."""
    return Finding(check, Status.OK, found)


def warn(check: Check, found: str, fix: str) -> Finding:
    """A caveat that does not stop synchronization."""
    return Finding(check, Status.WARN, found, fix)


def fail(check: Check, found: str, fix: str, *, retryable: bool = False) -> Finding:
    """A problem that stops synchronization."""
    return Finding(check, Status.FAIL, found, fix, retryable)


@dataclass(frozen=True)
class Report:
    """
    Every finding of one precheck run of a project.

    :param project: the project's name
    :param findings: the findings, in check order
    """

    project: str
    findings: tuple[Finding, ...]

    @classmethod
    def of(cls, project: str, findings: Iterable[Finding]) -> Report:
        """A report with its findings sorted by check (stable within a check)."""
        order = {check: index for index, check in enumerate(Check)}
        return cls(project, tuple(sorted(findings, key=lambda f: order[f.check])))

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The FAIL findings."""
        return tuple(f for f in self.findings if f.status is Status.FAIL)

    @property
    def passed(self) -> bool:
        """No finding is a FAIL (warnings allowed)."""
        return not self.failures

    @property
    def retryable(self) -> bool:
        """The report failed, and only on conditions a retry can fix."""
        return bool(self.failures) and all(f.retryable for f in self.failures)

    def counts(self) -> dict[str, int]:
        """How many findings of each status."""
        return {str(s): sum(1 for f in self.findings if f.status is s) for s in Status}

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (what the sensor pushes to XCom)."""
        return {
            "project": self.project,
            "passed": self.passed,
            "retryable": self.retryable,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def summary(self) -> str:
        """One line: the verdict and the counts."""
        counts = self.counts()
        verdict = "passed" if self.passed else ("failed (retryable)" if self.retryable else "failed")
        return (
            f"precheck of project {self.project!r} {verdict}: {counts['OK']} OK, {counts['WARN']} WARN, "
            f"{counts['FAIL']} FAIL"
        )

    def as_table(self, widths: Sequence[int] = (6, 26, 50, 50)) -> str:
        """The report as a text table (status, check, found, fix), long cells wrapped, for the task log."""
        head = ("STATUS", "CHECK", "FOUND", "FIX")
        rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        lines = [rule, _row(head, widths), rule]
        for finding in self.findings:
            cells = (str(finding.status), str(finding.check), finding.found, finding.fix)
            lines.append(_row(cells, widths))
            lines.append(rule)
        return "\n".join([self.summary(), *lines])


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One table row; each cell wrapped to its column, the row as tall as its tallest cell."""
    wrapped = [
        textwrap.wrap(cell, width, break_long_words=True, break_on_hyphens=False) or [""]
        for cell, width in zip(cells, widths, strict=True)
    ]
    height = max(len(cell) for cell in wrapped)
    out = []
    for index in range(height):
        parts = [
            (cell[index] if index < len(cell) else "").ljust(width)
            for cell, width in zip(wrapped, widths, strict=True)
        ]
        out.append("| " + " | ".join(parts) + " |")
    return "\n".join(out)
