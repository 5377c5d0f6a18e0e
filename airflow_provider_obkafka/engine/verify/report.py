"""What verification found: figures per range, the differing keys, and the verdict (`VerifyReport`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Difference", "DiffKind", "RangeFigures", "VerifyReport"]


class DiffKind:
    """The kinds of difference, as the report names them."""

    MISSING = "missing in topic"
    EXTRA = "extra in topic"
    DIFFERENT = "different value"
    DUPLICATED = "duplicated message"
    UNREADABLE = "unreadable message"
    RECORD = "done-record differs"


@dataclass(frozen=True)
class Difference:
    """
    One difference between a topic and its table.

    :param kind: a `DiffKind` value
    :param table: `database.table`, or the topic for a message no table claims
    :param range: the chunk range (`chunk 3 [(10,), (20,))`) or the hash bucket the key was compared in
    :param key: the key (`id=5`), or what the difference is about
    :param detail: what each side holds (offsets, digests, counts)
    """

    kind: str
    table: str
    range: str
    key: str
    detail: str = ""

    def line(self) -> str:
        """One report line."""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.table} {self.range}: {self.kind}: {self.key}{detail}"


@dataclass(frozen=True)
class RangeFigures:
    """
    The row count and checksum of one range on each side (a checksum is the sum of row digests mod 2^64).

    :param table: `database.table`
    :param range: the chunk range or bucket
    :param source_rows: rows the source holds at the point compared
    :param topic_rows: messages (full sync) or live keys (final state) the topic holds
    :param source_checksum: checksum of the source rows rendered with the project's serializer
    :param topic_checksum: checksum of the topic's rows
    :param recorded_rows: the full sync's done-record's row count, when there is one
    """

    table: str
    range: str
    source_rows: int
    topic_rows: int
    source_checksum: int
    topic_checksum: int
    recorded_rows: int | None = None

    @property
    def equal(self) -> bool:
        """Both sides agree (and the done-record, when there is one)."""
        recorded = self.recorded_rows is None or self.recorded_rows == self.source_rows
        return recorded and (self.source_rows, self.source_checksum) == (self.topic_rows, self.topic_checksum)


@dataclass
class VerifyReport:
    """
    The outcome of one verification.

    :param mode: `full` or `incremental`
    :param point: the point compared at (the snapshot SCN, or the source and checkpoint positions)
    :param figures: counts and checksums per range
    :param differences: the differences listed (at most `limit` per table)
    :param unlisted: differences found beyond the limit, per table
    :param notes: what else the reader should know (tables skipped, rechecks)
    :param limit: differences listed per table
    """

    mode: str
    point: str = ""
    figures: list[RangeFigures] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    unlisted: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    limit: int = 100

    @property
    def ok(self) -> bool:
        """No difference and every range equal."""
        return not self.differences and not self.unlisted and all(f.equal for f in self.figures)

    def add(self, difference: Difference) -> None:
        """List a difference, or count it once `limit` differences of its table are listed."""
        listed = sum(1 for d in self.differences if d.table == difference.table)
        if listed < self.limit:
            self.differences.append(difference)
        else:
            self.unlisted[difference.table] = self.unlisted.get(difference.table, 0) + 1

    def lines(self) -> list[str]:
        """The report as text lines: verdict, figures of unequal ranges, differences, notes."""
        rows = sum(f.source_rows for f in self.figures)
        bad = [f for f in self.figures if not f.equal]
        verdict = "OK" if self.ok else "DIFFERENCES FOUND"
        out = [f"verify {self.mode}: {verdict}: {len(self.figures)} range(s), {rows} source row(s){self.point}"]
        for f in bad:
            recorded = "" if f.recorded_rows is None else f", done-record {f.recorded_rows} rows"
            out.append(
                f"  {f.table} {f.range}: source {f.source_rows} rows checksum {f.source_checksum}, "
                f"topic {f.topic_rows} checksum {f.topic_checksum}{recorded}"
            )
        out += [f"  - {d.line()}" for d in self.differences]
        out += [f"  - {table}: {count} more difference(s) not listed" for table, count in self.unlisted.items()]
        out += [f"  note: {note}" for note in self.notes]
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (XCom, `--json`)."""
        return {
            "mode": self.mode, "ok": self.ok, "point": self.point.strip(" ,;"),
            "figures": [asdict(f) | {"equal": f.equal} for f in self.figures],
            "differences": [asdict(d) for d in self.differences], "unlisted": self.unlisted, "notes": self.notes,
        }  # fmt: skip
