"""
Verifying a full synchronization: per chunk range, the row count and checksum of the source rows at the snapshot,
rendered with the project's serializer, against the topic's full-sync rows of that range and the chunk's
done-record; then, for the ranges that differ only, the keys that differ.

Memory: the first pass keeps one count and checksum per chunk, whatever the table's size. The second pass keeps
the topic rows of the differing chunks only, in groups of at most `max_keys` rows (a single chunk larger than
that is compared alone), so memory follows the chunk size, not the table or the topic.
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_obkafka.engine.verify.check import Read, TableCheck, Tally, TopicMessage, range_text
from airflow_provider_obkafka.engine.verify.messages import Kind
from airflow_provider_obkafka.engine.verify.report import Difference, DiffKind, RangeFigures

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
    from airflow_provider_obkafka.engine.verify.report import VerifyReport

__all__ = ["FullIo", "topic_rows", "verify_full"]

log = logging.getLogger(__name__)
Rows = Iterable[list[tuple[Any, ...]]]
Entry = tuple[int, int, int]  # digest, partition, offset


class FullIo(Protocol):
    """What the full-sync verification reads: a topic's committed messages and a chunk's rows at the snapshot."""

    def messages(self, topic: str) -> Iterable[TopicMessage]:
        """Every committed message of `topic`, once."""
        ...

    def chunk_rows(self, check: TableCheck, chunk: Chunk) -> Rows:
        """The chunk's rows at the full sync's snapshot, in `check.ctx.image_columns` order, in batches."""
        ...


def _by_topic(checks: Iterable[TableCheck]) -> dict[str, list[TableCheck]]:
    found: dict[str, list[TableCheck]] = defaultdict(list)
    for check in checks:
        found[check.topic].append(check)
    return found


def topic_rows(
    topic: str, checks: Sequence[TableCheck], messages: Iterable[TopicMessage], *, kinds: frozenset[str],
    since_ms: int = 0, report: VerifyReport | None = None,
) -> Iterator[tuple[TableCheck, Any, Read, TopicMessage]]:  # fmt: skip
    """
    The messages of `topic` that belong to `checks`' tables and are of `kinds`, each read back:
    `(check, parsed message, read of its after image, message)`. An unreadable message is reported (when a
    report is given) and skipped; a message of another table is skipped.
    """
    index = {(name, c.ctx.table): c for c in checks for name in (c.ctx.database, c.ctx.db_name)}
    parser = checks[0].parser
    for message in messages:
        if message.value is None or message.timestamp_ms < since_ms:
            continue
        try:
            parsed = parser(message.value)
            check = index.get((parsed.database, parsed.table)) if parsed.kind in kinds else None
            if check is None:
                continue
            read = check.read_image(parsed, parsed.after if parsed.after is not None else parsed.before)
        except ValueError as exc:
            if report is not None:
                where = f"partition {message.partition} offset {message.offset}"
                report.add(Difference(DiffKind.UNREADABLE, topic, where, "message", str(exc)))
            continue
        yield check, parsed, read._replace(crc=zlib.crc32(message.value)), message


def verify_full(
    checks: Sequence[TableCheck], io: FullIo, report: VerifyReport, *, since_ms: int = 0, max_keys: int = 1_000_000
) -> VerifyReport:
    """Compare every chunk of `checks` on both sides, then find the keys of the chunks that differ."""
    rows_kind = frozenset({Kind.ROW})
    tallies: dict[tuple[str, int], Tally] = defaultdict(Tally)
    for topic, group in _by_topic(checks).items():
        for check, _, read, _ in topic_rows(topic, group, io.messages(topic), kinds=rows_kind, since_ms=since_ms,
                                            report=report):  # fmt: skip
            tallies[(check.name, check.locate(read.parts))].add(read.digest, read.crc)
    unequal: list[tuple[TableCheck, Chunk, int]] = []
    for check in checks:
        for chunk in check.chunks:
            source = Tally()
            for batch in io.chunk_rows(check, chunk):
                for row in batch:
                    read = check.read_row(row)
                    source.add(read.digest, read.crc)
            topic = tallies.get((check.name, chunk.index), Tally())
            if not _figures(check, chunk, source, topic, report).equal:
                unequal.append((check, chunk, max(source.rows, topic.rows)))
            log.info("%s %s: source %d rows, topic %d", check.name, range_text(chunk), source.rows, topic.rows)
    for group in _passes(unequal, max_keys):
        _diff_pass(group, io, report, since_ms)
    return report


def _figures(check: TableCheck, chunk: Chunk, source: Tally, topic: Tally, report: VerifyReport) -> RangeFigures:
    """The chunk's figures, and a difference when its done-record disagrees with the source."""
    record = check.records.get(chunk.index)
    where = range_text(chunk)
    figures = RangeFigures(check.name, where, source.rows, topic.rows, source.checksum, topic.checksum,
                           None if record is None else int(record["rows"]))  # fmt: skip
    report.figures.append(figures)
    if record is None:
        report.add(Difference(DiffKind.RECORD, check.name, where, "done-record", "the chunk has no done-record"))
    elif int(record["rows"]) != source.rows:
        detail = f"recorded {record['rows']} rows, the source holds {source.rows} at the snapshot"
        report.add(Difference(DiffKind.RECORD, check.name, where, "row count", detail))
    elif check.deterministic and int(record["checksum"]) != source.crc:
        detail = f"recorded checksum {record['checksum']}, the source rows render to {source.crc}"
        report.add(Difference(DiffKind.RECORD, check.name, where, "checksum", detail))
    return figures


def _passes(unequal: list[tuple[TableCheck, Chunk, int]], max_keys: int) -> Iterator[list[tuple[TableCheck, Chunk]]]:
    """The differing chunks in groups of at most `max_keys` rows (a larger chunk alone)."""
    group: list[tuple[TableCheck, Chunk]] = []
    size = 0
    for check, chunk, rows in unequal:
        if group and size + rows > max_keys:
            yield group
            group, size = [], 0
        group.append((check, chunk))
        size += rows
    if group:
        yield group


def _diff_pass(group: list[tuple[TableCheck, Chunk]], io: FullIo, report: VerifyReport, since_ms: int) -> None:
    """The keys that differ in a group of chunks: one topic pass keeping only their rows, then their sources."""
    sides: dict[tuple[str, int], dict[bytes, list[Entry]]] = {(c.name, k.index): {} for c, k in group}
    for topic, checks in _by_topic(check for check, _ in group).items():
        for check, _, read, message in topic_rows(topic, checks, io.messages(topic), kinds=frozenset({Kind.ROW}),
                                                  since_ms=since_ms):  # fmt: skip
            side = sides.get((check.name, check.locate(read.parts)))
            if side is not None:
                side.setdefault(read.identity, []).append((read.digest, message.partition, message.offset))
    missing: dict[tuple[str, bytes], tuple[Chunk, int]] = {}
    extra: dict[tuple[str, bytes], tuple[Chunk, list[Entry]]] = {}
    for check, chunk in group:
        side = sides.pop((check.name, chunk.index))
        for identity, digest in _compare_chunk(check, chunk, io.chunk_rows(check, chunk), side, report).items():
            missing[(check.name, identity)] = (chunk, digest)
        extra.update({(check.name, identity): (chunk, entries) for identity, entries in side.items() if entries})
    checks = {check.name: check for check, _ in group}
    _report_unmatched(checks, missing, extra, report)


def _where(entries: list[Entry]) -> str:
    return ", ".join(f"partition {partition} offset {offset}" for _, partition, offset in entries[:10])


def _compare_chunk(
    check: TableCheck, chunk: Chunk, rows: Rows, side: dict[bytes, list[Entry]], report: VerifyReport
) -> dict[bytes, int]:
    """Match a chunk's source rows with its topic rows; returns the rows missing in the topic (`side` keeps extras)."""
    missing: dict[bytes, int] = {}
    matched: set[bytes] = set()
    where = range_text(chunk)
    for batch in rows:
        for row in batch:
            read = check.read_row(row)
            entries = side.get(read.identity)
            if not entries:
                missing[read.identity] = read.digest
                continue
            entry = entries.pop(0)
            matched.add(read.identity)
            if entry[0] != read.digest:
                detail = f"the topic's row at {_where([entry])} differs from the source row"
                key = check.keys.describe(read.identity)
                report.add(Difference(DiffKind.DIFFERENT, check.name, where, key, detail))
    for identity in matched:
        if side.get(identity):
            copies = side.pop(identity)
            detail = f"{len(copies)} more message(s) of the row at {_where(copies)}"
            report.add(Difference(DiffKind.DUPLICATED, check.name, where, check.keys.describe(identity), detail))
    return missing


def _report_unmatched(
    checks: dict[str, TableCheck], missing: dict[tuple[str, bytes], tuple[Chunk, int]],
    extra: dict[tuple[str, bytes], tuple[Chunk, list[Entry]]], report: VerifyReport,
) -> None:  # fmt: skip
    """Missing and extra rows; a row found in another chunk than its key's rendered order says is neither."""
    for name_identity in sorted(set(missing) & set(extra)):
        (read_in, digest), (placed_in, entries) = missing[name_identity], extra[name_identity]
        if entries[0][0] == digest and len(entries) == 1:
            del missing[name_identity], extra[name_identity]
            _move(report, name_identity[0], range_text(placed_in), range_text(read_in), digest)
            report.notes.append(
                f"{name_identity[0]}: {checks[name_identity[0]].keys.describe(name_identity[1])} is read in "
                f"{range_text(read_in)} but its rendered key orders into {range_text(placed_in)} "
                "(the source's collation orders it otherwise): compared there, equal"
            )
    for (name, identity), (chunk, _) in sorted(missing.items(), key=lambda item: item[0]):
        key = checks[name].keys.describe(identity)
        report.add(Difference(DiffKind.MISSING, name, range_text(chunk), key, "the source row has no message"))
    for (name, identity), (chunk, entries) in sorted(extra.items(), key=lambda item: item[0]):
        key = checks[name].keys.describe(identity)
        detail = f"no source row at the snapshot; message(s) at {_where(entries)}"
        report.add(Difference(DiffKind.EXTRA, name, range_text(chunk), key, detail))


def _move(report: VerifyReport, table: str, source: str, target: str, digest: int) -> None:
    """Count a topic row in the chunk whose source read holds it, not the one its rendered key placed it in."""
    mask = (1 << 64) - 1
    for index, figures in enumerate(report.figures):
        if figures.table == table and figures.range in (source, target):
            sign = -1 if figures.range == source else 1
            report.figures[index] = replace(
                figures,
                topic_rows=figures.topic_rows + sign,
                topic_checksum=(figures.topic_checksum + sign * digest) & mask,
            )
