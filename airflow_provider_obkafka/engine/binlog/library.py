"""
Rows decoded by pymysqlreplication, as the reader's images: what the compiled decoder
(`engine/binlog/rows.py`) does not cover (JSON, BIT, GEOMETRY, pre-5.6 temporal types, partial row images).
The library gives a dict per row and None for a zero date or an empty SET; these become tuples in column
order holding the server's text. `engine/binlog/tables.py` calls `library_images`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymysqlreplication.constants import NONE_SOURCE

from airflow_provider_obkafka.engine.changes.change import RecordType

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_obkafka.engine.changes.change import Image

__all__ = ["library_images"]


def _zero_text(column: Any, source: str) -> str | None:
    """The server's text for a value the library returns as None (zero date, empty SET), else None."""
    if source == NONE_SOURCE.EMPTY_SET:
        return ""
    if source == NONE_SOURCE.OUT_OF_DATE_RANGE:
        return "0000-00-00"
    if source in (NONE_SOURCE.OUT_OF_DATETIME_RANGE, NONE_SOURCE.OUT_OF_DATETIME2_RANGE):
        fsp = getattr(column, "fsp", 0) or 0
        return "0000-00-00 00:00:00" + ("." + "0" * fsp if fsp else "")
    return None


def _image(values: dict[str, Any], none_sources: dict[str, str], columns: list[Any]) -> Image:
    """A library row dict as a tuple in column order, zero dates and empty SETs as the server's text."""
    image = tuple(values.values())
    if any(source != NONE_SOURCE.NULL for source in none_sources.values()):
        names = list(values)
        fixed = list(image)
        for name, source in none_sources.items():
            if name in values:
                i = names.index(name)
                fixed[i] = _zero_text(columns[i], source)
        image = tuple(fixed)
    return image


def library_images(event: Any, record_type: RecordType) -> Iterator[tuple[Image | None, Image | None]]:
    """(before, after) images of a library rows event, decoded by the library: what `FastRows` skips."""
    columns = event.columns
    for row in event.rows:
        if record_type is RecordType.INSERT:
            yield None, _image(row["values"], row["none_sources"], columns)
        elif record_type is RecordType.DELETE:
            yield _image(row["values"], row["none_sources"], columns), None
        else:
            before = _image(row["before_values"], row["before_none_sources"], columns)
            yield before, _image(row["after_values"], row["after_none_sources"], columns)
