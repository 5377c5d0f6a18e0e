"""
The annotated field types of a project's sections, with the rules pydantic runs on them: lists without
repeats (`ColumnList`, `TableList`), enum sets in canonical order (`SyncTypes`, `DmlTypes`), strict numbers
and booleans, and a MySQL `ServerId`. `sections` and `options` build their models from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Strict

from airflow_provider_obkafka.models.naming import (
    ColumnName,
    Dml,
    DmlName,
    ObjectName,
    SyncType,
    SyncTypeName,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ColumnList", "DmlTypes", "ServerId", "StrictBool", "StrictInt", "SyncTypes", "TableList"]


def _listed_once(what: str, empty: str | None = None, *, repeats: bool = False) -> AfterValidator:
    """A check that a list has no repeated item (unless `repeats`) and, when `empty` is set, is not empty."""

    def check(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items and empty:
            raise ValueError(empty)
        repeated = [] if repeats else sorted({str(item) for item in items if items.count(item) > 1})
        if repeated:
            raise ValueError(
                f"{what} {', '.join(map(repr, repeated))} is listed more than once; list each once"
            )
        return items

    return AfterValidator(check)


def _canonical(order: Sequence[Any], empty: str) -> AfterValidator:
    """A set of enum members: not empty, repeats dropped, in the enum's order."""

    def check(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items:
            raise ValueError(empty)
        return tuple(member for member in order if member in items)

    return AfterValidator(check)


def _between(low: int, high: int, what: str) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{what} must be {low} to {high}")
        return value

    return AfterValidator(check)


StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
ColumnList = Annotated[
    tuple[ColumnName, ...], _listed_once("column", "must not be empty; leave it out to use the default")
]
TableList = Annotated[
    tuple[ObjectName, ...], _listed_once("table", "must list at least one table name or pattern")
]
SyncTypes = Annotated[
    tuple[SyncTypeName, ...],
    _canonical(list(SyncType), "must select at least one of schema, full, incremental (and optionally verify)"),
]
DmlTypes = Annotated[
    tuple[DmlName, ...], _canonical(list(Dml), "must name at least one of INSERT, UPDATE, DELETE")
]
ServerId = Annotated[StrictInt, _between(1, 2**32 - 1, "a MySQL server_id")]
