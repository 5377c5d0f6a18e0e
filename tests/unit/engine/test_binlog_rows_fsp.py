"""
The compiled decoder's fractional seconds (`_fsp_code`) against the library's formula: the bytes read
big-endian signed, `int(value / 10) * scale` for odd precisions, `value * scale` for even ones, and for
DATETIME2/TIMESTAMP2 (clamped) a negative result counted as 0. Every 1- and 2-byte pattern, and 3-byte
patterns around every boundary.
"""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.binlog.rows import _FSP_BYTES, _fsp_code


def _library(raw: bytes, fsp: int, clamp: bool) -> int:
    value = int.from_bytes(raw, "big", signed=True)
    micros = int(value / 10) * 10 ** (6 - fsp) if fsp % 2 else value * 10 ** (6 - fsp)
    return max(micros, 0) if clamp else micros


def _patterns(size: int) -> list[bytes]:
    if size < 3:
        return [n.to_bytes(size, "big") for n in range(256**size)]
    edges = (0, 1, 9, 10, 11, 999_999, 1_000_000, 0x7FFFFF, 0x800000, 0x800001, 0xFFFFF6, 0xFFFFFF)
    return [(n + step).to_bytes(3, "big") for n in edges for step in range(-3, 4) if 0 <= n + step < 256**3]


@pytest.mark.parametrize("clamp", [True, False])
@pytest.mark.parametrize("fsp", range(1, 7))
def test_fraction_matches_the_library(fsp: int, clamp: bool) -> None:
    code, size = _fsp_code(fsp, "p", clamp=clamp)
    assert size == _FSP_BYTES[fsp]
    compiled = eval(f"lambda d, p: {code}", {"from_bytes": int.from_bytes})  # noqa: S307 - our own code
    for raw in _patterns(size):
        data = b"\xaa" + raw + b"\xbb"
        assert compiled(data, 1) == _library(raw, fsp, clamp), (fsp, raw.hex())


def test_no_fraction() -> None:
    assert _fsp_code(0, "p") == ("0", 0)
