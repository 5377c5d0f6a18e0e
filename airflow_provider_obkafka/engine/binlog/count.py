"""
Counting the rows of a binlog rows event without decoding them: what the trigger needs to decide when to fire.

A rows event (v2 WRITE/UPDATE/DELETE) holds, per row and per image (two for an UPDATE), a NULL bitmap over
the present columns, then each non-NULL value, whose size follows from the column's TABLE_MAP type and
metadata: fixed, or a little-endian length prefix and that many bytes. Walking those sizes is far cheaper
than building Python values. Anything unexpected (an unknown type, a walk that does not end exactly at the
event's end) gives None, and the caller decodes the event instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["column_layout", "count_rows"]

# MySQL column type codes (TABLE_MAP), as in the server's `enum_field_types`.
_FIXED = {1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 6: 0, 7: 4, 8: 8, 9: 3, 10: 3, 11: 3, 12: 8, 13: 1}
_WITH_FSP = {17: 4, 18: 5, 19: 3}  # TIMESTAMP2, DATETIME2, TIME2: base bytes + (fsp + 1) // 2
_PASCAL = {15, 253, 254}  # VARCHAR, VAR_STRING, STRING: 1-byte length, 2 when max_length > 255
_LENGTH_SIZE = {245, 249, 250, 251, 252, 255}  # JSON, BLOBs, GEOMETRY: `length_size`-byte length
_ENUM_SET = {247, 248}
_BIT, _NEWDECIMAL = 16, 246
_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)

Layout = tuple[tuple[int, int], ...]  # per column: (length-prefix bytes, fixed bytes)


def _decimal_bytes(precision: int, scale: int) -> int:
    integral = precision - scale
    return (integral // 9) * 4 + _DIG2BYTES[integral % 9] + (scale // 9) * 4 + _DIG2BYTES[scale % 9]


def _width(column: Any) -> tuple[int, int] | None:
    kind = column.type
    if kind in _FIXED:
        return 0, _FIXED[kind]
    if kind in _WITH_FSP:
        return 0, _WITH_FSP[kind] + ((getattr(column, "fsp", 0) or 0) + 1) // 2
    if kind in _PASCAL:
        return (2 if column.max_length > 255 else 1), 0
    if kind in _LENGTH_SIZE:
        size = getattr(column, "length_size", 0)
        return (size, 0) if size in (1, 2, 3, 4) else None
    if kind in _ENUM_SET:
        return 0, column.size
    if kind == _BIT:
        return 0, (column.bits + 7) // 8
    if kind == _NEWDECIMAL:
        return 0, _decimal_bytes(column.precision, column.decimals)
    return None


def column_layout(columns: Iterable[Any]) -> Layout | None:
    """Each column's value size rule (TABLE_MAP columns: `type`, `max_length`...); None if one is unknown."""
    widths = []
    for column in columns:
        width = _width(column)
        if width is None:
            return None
        widths.append(width)
    return tuple(widths)


def _present(layout: Layout, bitmap: bytes) -> tuple[int, Layout, tuple[tuple[int, int], ...], int]:
    """
    For one image's columns-present bitmap: the NULL-bitmap size, the present columns' size rules, and the
    walk of a row without NULLs: (fixed bytes before, length-prefix bytes) per prefixed column, fixed tail.
    """
    present = tuple(width for i, width in enumerate(layout) if bitmap[i >> 3] >> (i & 7) & 1)
    steps, run = [], 0
    for prefix, fixed in present:
        if prefix:
            steps.append((run, prefix))
            run = 0
        else:
            run += fixed
    return (len(present) + 7) // 8, present, tuple(steps), run


def count_rows(
    data: bytes | memoryview, start: int, end: int, layout: Layout, bitmaps: Sequence[bytes]
) -> int | None:
    """
    How many rows the row data `data[start:end]` holds; `bitmaps` are the columns-present bitmaps (one, or
    two for an UPDATE). None when the walk does not end exactly at `end` (the caller then decodes).
    """
    try:
        return _walk(data, start, end, [_present(layout, bitmap) for bitmap in bitmaps])
    except IndexError:  # a length led past the data: not what this walk understands
        return None


def _walk(data: bytes | memoryview, start: int, end: int, images: list[Any]) -> int | None:
    pos, rows = start, 0
    while pos < end:
        for null_bytes, present, steps, tail in images:
            nulls = int.from_bytes(data[pos : pos + null_bytes], "little")
            pos += null_bytes
            if not nulls:  # the common case: only the length prefixes are read
                for run, prefix in steps:
                    pos += run
                    size = data[pos] if prefix == 1 else int.from_bytes(data[pos : pos + prefix], "little")
                    pos += prefix + size
                pos += tail
                continue
            for index, (prefix, fixed) in enumerate(present):
                if nulls >> index & 1:
                    continue
                pos += fixed if not prefix else prefix + int.from_bytes(data[pos : pos + prefix], "little")
        rows += 1
    return rows if pos == end else None
