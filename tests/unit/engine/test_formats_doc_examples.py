"""
Every example message that docs/formats.md says is "exactly as written" is what the serializer writes for the
same change: each example is read from the document and compared, as JSON, with the serializer's output for
the table and changes the document describes (§3.2's `shop.orders` in tenant `t1`).
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.models.schema import Column, TableSchema
from tests.unit.engine.serializer_cases import parse

DOC = Path(__file__).resolve().parents[3] / "docs" / "formats.md"
# (section heading, method): the sections whose examples are "exactly as written"
SECTIONS = {
    "## 3. Default": "Default", "## Canal": "Canal", "## Debezium": "Debezium",
    "## DefaultExtendColumnType": "DefaultExtendColumnType", "## DataWorks (2.0)": "DataWorks",
    "## SharePlex": "SharePlex",
}  # fmt: skip
# The §3.2 row and its life: created 2024-05-01 08:00:00 +08:00, paid 307.25 s later, deleted 3 s after.
CREATED = (42, "张三", Decimal("99.90"), "new", None, datetime(2024, 5, 1, 8, 0, 0), b"\x89PNG")
PAID = CREATED[:3] + ("paid", datetime(2024, 5, 1, 0, 5, 7, 250000)) + CREATED[5:]  # TIMESTAMP read in UTC
# Commit times: a binlog event carries whole seconds.
INSERT_US, UPDATE_US, DELETE_US = 1714521600_000000, 1714521907_000000, 1714521910_000000


def _examples() -> list[tuple[str, str, str]]:
    """(method, label, JSON text) of each example the document says is exactly as written."""
    out, method, exact_section = [], None, False
    lines = DOC.read_text(encoding="utf-8").splitlines()
    label, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            method = SECTIONS.get(line.strip())
            # these sections say all their examples are exact; Default's indented ones are whole messages too
            exact_section = method in ("Default", "DefaultExtendColumnType", "DataWorks", "SharePlex")
        elif line.startswith("```json") and method is not None:
            end = lines.index("```", i + 1)
            if "exactly as written" in label or exact_section:
                kind = label.split(" (")[0].split(",")[0].rstrip(":")  # "ROW (full synchronization), ..."
                out.append((method, kind, "\n".join(lines[i + 1 : end])))
            i = end
        elif line.strip():
            label = line.strip()
        i += 1
    return out


def _context(method: str) -> TableContext:
    types = (
        ("id", "bigint", "bigint(20)", {"nullable": False}),
        ("customer", "varchar", "varchar(32)", {"charset": "utf8mb4", "length": 32}),
        ("amount", "decimal", "decimal(10,2)", {"precision": 10, "scale": 2}),
        ("status", "enum", "enum('new','paid')", {"enum_values": ("new", "paid")}),
        ("paid_at", "timestamp", "timestamp(3)", {"fractional_seconds": 3}),
        ("created", "datetime", "datetime", {}),
        ("photo", "blob", "blob", {}),
    )
    columns = tuple(
        Column(name=n, position=i, data_type=d, column_type=c, **x) for i, (n, d, c, x) in enumerate(types, 1)
    )
    schema = TableSchema(database="shop", table="orders", columns=columns, primary_key=("id",))
    business = None if method in ("Default", "Canal", "Debezium") else "CIBS"
    return build_table_context(schema, tenant="t1", business_system_id=business)


def _change(label: str, ctx: TableContext) -> RowChange:
    names, key = ctx.image_columns, ctx.key_columns
    if label == "ROW":
        return RowChange("shop", "orders", RecordType.ROW, names, None, CREATED, key)
    kinds = {
        # intra-transaction numbers count from 1: INSERT and UPDATE first of theirs, the DELETE the fourth
        "INSERT": (RecordType.INSERT, None, CREATED, INSERT_US, "1002_336195", 1),
        "UPDATE": (RecordType.UPDATE, CREATED, PAID, UPDATE_US, "1002_336201", 1),
        "DELETE": (RecordType.DELETE, PAID, None, DELETE_US, "1002_336240", 4),
    }
    kind, before, after, commit, tx, seq = kinds[label]
    return RowChange(
        "shop", "orders", kind, names, before, after, key,
        commit_ts_us=commit, transaction_id=tx, checkpoint="mysql-bin.000003:1234", sequence=seq,
    )  # fmt: skip


def _serializer(method: str, example: Any):
    """
    The method's serializer, as `serializer_for` builds it; a method that writes the time the message is
    written (a clock, not the change) gets a clock stopped at the example's own value of that field.
    """
    serializer = serializer_for(method, intra_transaction_sequence=True)
    if "clock" not in inspect.signature(type(serializer)).parameters:
        return serializer
    if method == "Canal":
        now: float = example["ts"]  # epoch milliseconds
    elif method == "Debezium":
        now = example["payload"]["ts_ms"]  # epoch milliseconds
    elif method == "DataWorks":
        now = example["payload"]["timestamp"]["systemTime"] / 1000  # the clock gives seconds
    else:  # SharePlex: meta.posttime, seconds, written as UTC text
        now = datetime.fromisoformat(example["meta"]["posttime"]).replace(tzinfo=UTC).timestamp()
    return type(serializer)(intra_transaction_sequence=True, clock=lambda: now)


EXAMPLES = _examples()


def test_the_document_has_the_examples_it_claims() -> None:
    claimed = {(method, label) for method, label, _ in EXAMPLES}
    assert claimed >= {("Default", "ROW"), ("Canal", "ROW"), ("Debezium", "ROW")}
    assert len(EXAMPLES) == 18, [(m, label) for m, label, _ in EXAMPLES]


@pytest.mark.parametrize(("method", "label", "text"), EXAMPLES, ids=[f"{m}-{lbl}" for m, lbl, _ in EXAMPLES])
def test_example_is_what_the_serializer_writes(method: str, label: str, text: str) -> None:
    ctx = _context(method)
    example = parse(text)
    written = _serializer(method, example).value(_change(label, ctx), ctx)
    assert parse(written) == example
