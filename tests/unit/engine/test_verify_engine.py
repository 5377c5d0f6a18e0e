"""Verification's pure logic: reading messages back, keys and ranges, the chunk and final-state comparisons."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.pipeline.full import row_encoder
from airflow_provider_obkafka.engine.serializers import record_function, serializer_for
from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
from airflow_provider_obkafka.engine.verify.check import TableCheck, TopicMessage
from airflow_provider_obkafka.engine.verify.full import verify_full
from airflow_provider_obkafka.engine.verify.keys import KeyPlan, RangeLocator
from airflow_provider_obkafka.engine.verify.messages import Kind, parse_debezium, parse_default, parser_for
from airflow_provider_obkafka.engine.verify.report import DiffKind, VerifyReport
from airflow_provider_obkafka.engine.verify.state import verify_state
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema

ROWS = [(i, f"name {i}", f"{i}.50") for i in range(1, 31)]  # id, name, total
BOUNDS = [None, (11,), (21,), None]  # three chunks: [start, 11), [11, 21), [21, end)


def context(table: str = "t") -> Any:
    columns = (
        Column(name="id", position=1, data_type="bigint", column_type="bigint", nullable=False),
        Column(name="name", position=2, data_type="varchar", column_type="varchar(20)", length=20),
        Column(name="total", position=3, data_type="decimal", column_type="decimal(12,2)", precision=12, scale=2),
    )
    return build_table_context(TableSchema(database="d", table=table, columns=columns, primary_key=("id",)))


def chunks(table: str = "t") -> list[Chunk]:
    return [Chunk(TableRef("d", table), i, ("id",), BOUNDS[i], BOUNDS[i + 1]) for i in range(3)]


def table_check(method: str = "Default", table: str = "t") -> TableCheck:
    ctx = context(table)
    return TableCheck(ctx, "topic", row_encoder(serializer_for(method), ctx), parser_for(method),
                      deterministic=method == "Default", chunks=chunks(table))  # fmt: skip


def in_chunk(chunk: Chunk, row: tuple[Any, ...]) -> bool:
    return (chunk.lower is None or row[0] >= chunk.lower[0]) and (chunk.upper is None or row[0] < chunk.upper[0])


class Io:
    """Lists for the topic and the table."""

    def __init__(self, check: TableCheck, rows: list[tuple[Any, ...]], messages: list[tuple[bytes | None, bytes]]):
        self.check, self.rows = check, rows
        self.topic = [TopicMessage(k, v, 0, offset, 1000 + offset) for offset, (k, v) in enumerate(messages)]
        self.scans = 0

    def messages(self, topic: str) -> list[TopicMessage]:
        self.scans += 1
        return self.topic

    def chunk_rows(self, check: TableCheck, chunk: Chunk) -> list[list[tuple[Any, ...]]]:
        return [[row for row in self.rows if in_chunk(chunk, row)]]

    def table_rows(self, check: TableCheck) -> list[list[tuple[Any, ...]]]:
        return [self.rows]

    def count_rows(self, check: TableCheck) -> int:
        return len(self.rows)

    def settle(self) -> str:
        return "the test's point"


def full_messages(check: TableCheck, rows: list[tuple[Any, ...]]) -> list[tuple[bytes | None, bytes]]:
    return [check.encode(row) for row in rows]


def records(check: TableCheck, rows: list[tuple[Any, ...]]) -> dict[int, dict[str, Any]]:
    import zlib

    out = {}
    for chunk in check.chunks:
        values = [check.encode(row)[1] for row in rows if in_chunk(chunk, row)]
        out[chunk.index] = {"rows": len(values), "checksum": sum(zlib.crc32(v) for v in values)}
    return out


def run_full(check: TableCheck, messages: list[tuple[bytes | None, bytes]], rows=ROWS, **kw: Any) -> VerifyReport:
    check.records = records(check, rows)
    return verify_full([check], Io(check, rows, messages), VerifyReport("full"), **kw)


@pytest.mark.parametrize("method", ["Default", "Debezium", "DefaultExtendColumnType"])
def test_a_good_topic_passes_with_equal_figures_per_chunk(method):
    check = table_check(method)
    report = run_full(check, full_messages(check, ROWS))
    assert report.ok, report.lines()
    assert [(f.range.split(" [")[0], f.source_rows, f.topic_rows) for f in report.figures] == [
        ("chunk 0", 10, 10), ("chunk 1", 10, 10), ("chunk 2", 10, 10)
    ]


@pytest.mark.parametrize("method", ["Default", "Debezium"])
def test_each_corruption_is_found_and_named_with_table_range_and_key(method):
    check = table_check(method)
    messages = full_messages(check, ROWS)
    removed = messages.pop(4)  # id=5, chunk 0
    assert removed
    messages.append(messages[13])  # id=15 again, chunk 1 (index 13 after the removal)
    changed = full_messages(check, [(25, "name 25", "99.99")])[0]
    messages[23] = changed  # id=25, chunk 2, another total
    report = run_full(check, messages)
    assert not report.ok
    found = {(d.kind, d.table, d.range.split(" [")[0], d.key) for d in report.differences}
    assert found == {
        (DiffKind.MISSING, "d.t", "chunk 0", "id=5"),
        (DiffKind.DUPLICATED, "d.t", "chunk 1", "id=15"),
        (DiffKind.DIFFERENT, "d.t", "chunk 2", "id=25"),
    }, report.lines()
    assert "chunk 0 [start, (11,))" in "\n".join(report.lines())


def test_an_extra_message_and_a_done_record_that_disagrees_are_reported():
    check = table_check()
    messages = full_messages(check, ROWS) + full_messages(check, [(40, "ghost", "1.00")])
    report = run_full(check, messages)
    assert [(d.kind, d.key) for d in report.differences] == [(DiffKind.EXTRA, "id=40")]
    check.records = {**records(check, ROWS), 1: {"rows": 9, "checksum": 0}}
    report = verify_full([check], Io(check, ROWS, full_messages(check, ROWS)), VerifyReport("full"))
    assert [(d.kind, d.range.split(" [")[0], d.key) for d in report.differences] == [
        (DiffKind.RECORD, "chunk 1", "row count")
    ]


def test_incremental_messages_and_older_messages_do_not_count_in_a_full_verify():
    check = table_check()
    later = RowChange("d", "t", RecordType.INSERT, check.ctx.image_columns, None, (50, "x", "1.00"), ("id",), 10**15)
    insert = record_function(serializer_for("Default"), check.ctx)(later)
    good = full_messages(check, ROWS)
    report = run_full(check, [*good, insert])
    assert report.ok, report.lines()
    io = Io(check, ROWS, [good[0], *good])  # the first message's timestamp (1000) is before `since`
    report = verify_full([check], io, VerifyReport("full"), since_ms=1001)
    assert report.ok, report.lines()


def test_the_second_pass_runs_only_for_differing_chunks_and_in_groups_of_max_keys():
    check = table_check()
    io = Io(check, ROWS, full_messages(check, ROWS))
    check.records = records(check, ROWS)
    verify_full([check], io, VerifyReport("full"))
    assert io.scans == 1, "a good topic is read once"
    io = Io(check, ROWS, full_messages(check, ROWS[1:10] + ROWS[11:20] + ROWS[21:]))
    report = verify_full([check], io, VerifyReport("full"), max_keys=15)
    assert io.scans == 1 + 3, "three differing chunks of 10 rows, at most 15 keys a pass"
    assert sorted(d.key for d in report.differences) == ["id=1", "id=11", "id=21"]


def test_a_key_the_locator_places_in_another_chunk_is_reconciled_not_reported():
    check = table_check()
    check.locator = RangeLocator([check.keys.sort_key((5,)), check.keys.sort_key((21,))])  # id 5..10 misplaced
    report = run_full(check, full_messages(check, ROWS))
    assert report.ok, report.lines()
    assert len(report.notes) == 6 and "compared there, equal" in report.notes[0]


def test_unreadable_messages_are_named_by_partition_and_offset():
    check = table_check()
    report = run_full(check, [*full_messages(check, ROWS), (b"k", b"not json")])
    assert [(d.kind, d.table, d.range) for d in report.differences] == [
        (DiffKind.UNREADABLE, "topic", "partition 0 offset 30")
    ]


def test_parsers_read_kinds_images_and_names():
    check = table_check("Debezium")
    key, value = check.encode(ROWS[0])
    parsed = parse_debezium(value)
    assert (parsed.database, parsed.table, parsed.kind) == ("d", "t", Kind.ROW)
    assert parsed.after is not None and parsed.after["id"] == 1
    default = parse_default(table_check().encode(ROWS[0])[1])
    assert default.kind == Kind.ROW and default.row_key == "1"
    with pytest.raises(ValueError, match="not a Default message"):
        parse_default(b'{"payload": {}}')
    with pytest.raises(ConfigError, match=r"options.serialization: 'Canal' messages cannot be verified yet"):
        parser_for("Canal")


def test_key_order_is_numeric_for_numbers_and_text_otherwise():
    plan = KeyPlan(("a", "b"), (True, False), True)
    keys = [plan.sort_key(p) for p in [("10", "b"), (9, "z"), ("10", "a"), (None, "a")]]
    assert sorted(keys) == [keys[3], keys[1], keys[2], keys[0]]
    locator = RangeLocator([plan.sort_key((10, "a")), plan.sort_key((20, "a"))])
    assert [locator.locate(plan.sort_key(p)) for p in [(9, "z"), (10, "a"), (19, "z"), (20, "a"), (99, "")]] == [
        0, 1, 1, 2, 2
    ]


def change(check: TableCheck, kind: RecordType, before=None, after=None) -> tuple[bytes | None, bytes]:
    ctx = check.ctx
    return record_function(serializer_for("Default"), ctx)(
        RowChange("d", "t", kind, ctx.image_columns, before, after, ("id",), 10**15)
    )


def test_final_state_replays_inserts_updates_deletes_and_key_changes():
    check = table_check()
    rows = [(1, "a", "1.00"), (2, "b", "2.00"), (30, "moved", "3.00")]
    messages = [
        *full_messages(check, [(1, "a", "1.00"), (2, "old", "2.00"), (3, "c", "3.00")]),
        change(check, RecordType.UPDATE, (2, "old", "2.00"), (2, "b", "2.00")),
        change(check, RecordType.DELETE, (3, "c", "3.00")),
        change(check, RecordType.INSERT, None, (4, "d", "4.00")),
        change(check, RecordType.UPDATE, (4, "d", "4.00"), (30, "moved", "3.00")),
    ]
    report = verify_state([check], Io(check, rows, messages), VerifyReport("incremental"), max_keys=2)
    assert report.ok, report.lines()
    assert len(report.figures) == 2, "3 rows at most 2 keys a bucket: 2 buckets"


def test_final_state_differences_are_named_and_rechecked():
    check = table_check()
    rows = [(1, "a", "1.00"), (2, "b", "2.00"), (5, "e", "5.00")]
    messages = [
        *full_messages(check, [(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.00")]),
        change(check, RecordType.UPDATE, (2, "b", "2.00"), (2, "B", "2.00")),
    ]
    io = Io(check, rows, messages)
    report = verify_state([check], io, VerifyReport("incremental"), rechecks=2)
    assert {(d.kind, d.key) for d in report.differences} == {
        (DiffKind.DIFFERENT, "id=2"), (DiffKind.EXTRA, "id=3"), (DiffKind.MISSING, "id=5")
    }
    assert io.scans == 3, "compared three times: once, then two rechecks"
    assert report.differences[0].range == "bucket 1 of 1"
