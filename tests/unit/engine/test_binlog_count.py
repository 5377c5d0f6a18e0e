"""Row counting from value sizes alone, over hand-built row data."""

from __future__ import annotations

from types import SimpleNamespace as Col

import pytest

from airflow_provider_obkafka.engine.binlog.count import column_layout, count_rows

# INT, VARCHAR(10) (1-byte length), DATETIME2(3) (5 + 2 bytes), BLOB (2-byte length), DECIMAL(10,2) (5 bytes)
COLUMNS = [
    Col(type=3), Col(type=15, max_length=40), Col(type=18, fsp=3), Col(type=252, length_size=2),
    Col(type=246, precision=10, decimals=2),
]  # fmt: skip
ALL = b"\x1f"


def _row(nulls: int, text: bytes | None, blob: bytes | None) -> bytes:
    out = bytes([nulls]) + b"\x01\x00\x00\x00"
    if text is not None:
        out += bytes([len(text)]) + text
    out += b"\x00" * 7
    if blob is not None:
        out += len(blob).to_bytes(2, "little") + blob
    return out + b"\x00" * 5


def test_layout_of_each_kind():
    assert column_layout(COLUMNS) == ((0, 4), (1, 0), (0, 7), (2, 0), (0, 5))
    assert column_layout([Col(type=15, max_length=1200)]) == ((2, 0),)
    kinds = [Col(type=16, bits=10), Col(type=247, size=1), Col(type=17, fsp=6)]
    assert column_layout(kinds) == ((0, 2), (0, 1), (0, 7))
    assert column_layout([Col(type=242)]) is None, "an unknown type: decode instead"


def test_counts_rows_with_and_without_nulls():
    data = _row(0, b"abc", b"x" * 300) + _row(0b01010, None, None) + _row(0, b"", b"")
    layout = column_layout(COLUMNS)
    assert count_rows(data, 0, len(data), layout, [ALL]) == 3
    assert count_rows(b"pad" + data, 3, 3 + len(data), layout, [ALL]) == 3


def test_update_rows_have_two_images():
    data = _row(0, b"old", b"") + _row(0, b"new!", b"y")
    assert count_rows(data, 0, len(data), column_layout(COLUMNS), [ALL, ALL]) == 1


def test_absent_columns_are_skipped():
    # only INT and VARCHAR present (MINIMAL image): 1-byte NULL bitmap over 2 columns
    data = b"\x00\x07\x00\x00\x00\x02hi" + b"\x02\x07\x00\x00\x00"
    assert count_rows(data, 0, len(data), column_layout(COLUMNS), [b"\x03"]) == 2


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_walk_that_does_not_end_at_the_end_says_none(cut):
    data = _row(0, b"abc", b"x" * 30) * 2
    assert count_rows(data, 0, len(data) - cut, column_layout(COLUMNS), [ALL]) is None
