"""
The reference's example messages (`oms-kafka-formats.md`), read at test time, the tables the reference-example
tests build, and the shape comparison they make between a documented message and ours.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_obkafka.engine.changes.change import TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.models.schema import Column, TableSchema

REFERENCE_NAME = "oms-kafka-formats.md"


VENDORED = Path(__file__).resolve().parents[2] / "reference" / REFERENCE_NAME


def shared_reference_file() -> Path | None:
    """The team's reference, in `$OBKAFKA_REFERENCE_DIR` or `shared/reference/` beside the checkout, if there."""
    folder = os.environ.get("OBKAFKA_REFERENCE_DIR")
    candidates = [Path(folder) / REFERENCE_NAME] if folder else []
    candidates += [p / "shared" / "reference" / REFERENCE_NAME for p in Path(__file__).resolve().parents]
    return next((candidate for candidate in candidates if candidate.is_file()), None)


def reference_file() -> Path:
    """
    The reference: the team's copy when it is beside the checkout, else the copy vendored in
    `tests/reference/` (a clean checkout on a CI machine has only that one; a test keeps the two equal).
    """
    for candidate in (shared_reference_file(), VENDORED):
        if candidate is not None and candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{REFERENCE_NAME} not found; set OBKAFKA_REFERENCE_DIR to the folder holding it")


def section(number: int) -> str:
    """The text of the reference's `## <number>.` section."""
    text = reference_file().read_text(encoding="utf-8")
    found = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.M | re.S)
    assert found, f"section {number} not in the reference"
    return found.group(0)


def parse_exact(text: str | bytes) -> Any:
    """JSON with every fraction as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


def examples(number: int) -> list[Any]:
    """The parsed ```json blocks of a section, fractions as exact Decimals."""
    return [parse_exact(block) for block in re.findall(r"```json\n(.*?)```", section(number), re.S)]


def json_type(value: Any) -> str:
    """The JSON type of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    kinds = {int: "number", float: "number", Decimal: "number", str: "string", dict: "object", list: "array"}
    return kinds[type(value)]


def same_shape(documented: Any, ours: Any, where: str = "$") -> None:
    """
    Ours has every documented key (but an elided `...`) with the same JSON type, recursively; lists have the
    same length. A documented null allows any type.
    """
    if isinstance(documented, dict):
        assert isinstance(ours, dict), where
        for key, value in documented.items():
            if key != "...":
                assert key in ours, f"{where}.{key} missing"
                same_shape(value, ours[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(ours, list), where
        assert len(ours) == len(documented), where
        for i, (doc_item, our_item) in enumerate(zip(documented, ours, strict=True)):
            same_shape(doc_item, our_item, f"{where}[{i}]")
    elif documented is not None:
        assert json_type(ours) == json_type(documented), f"{where}: {ours!r} vs documented {documented!r}"


def reference_table(
    database: str, name: str, types: dict[str, str] | list[str], key: tuple[str, ...], **kw: Any
) -> TableContext:
    """
    A table of MySQL column types (`bigint unsigned`, `binary(1)`, `bit(8)`) in that order: `column: type`,
    or a list of types for columns `col1..colN`. `kw` goes to `build_table_context`.
    """
    named = types if isinstance(types, dict) else {f"col{i}": t for i, t in enumerate(types, start=1)}
    columns = tuple(
        Column(name=col, position=i, data_type=ct.split("(")[0].split()[0], column_type=ct,
               unsigned="unsigned" in ct, precision=_width(ct) if ct.startswith("bit(") else None,
               length=_width(ct) if ct.startswith("binary(") else None)
        for i, (col, ct) in enumerate(named.items(), start=1)
    )  # fmt: skip
    schema = TableSchema(database=database, table=name, columns=columns, primary_key=key)
    return build_table_context(schema, **kw)


def _width(column_type: str) -> int:
    """The number in a column type's parentheses: 8 in `bit(8)`."""
    return int(column_type.partition("(")[2].partition(")")[0])
