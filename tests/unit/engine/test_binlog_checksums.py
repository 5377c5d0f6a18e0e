"""CRC32 rules of the reader on raw event bytes (the OK byte, the 19-byte header, the body, the CRC32)."""

from __future__ import annotations

import struct
import zlib

from airflow_provider_obkafka.engine.binlog.decoders import CRC32_RESIDUE, in_use_crc
from airflow_provider_obkafka.engine.binlog.parse import FORMAT_DESCRIPTION, IN_USE, QUERY


def _event(kind: int, flags: int, body: bytes, crc_flags: int | None = None) -> bytes:
    """An event as the dump sends it; its CRC32 computed over the header with `crc_flags` (default `flags`)."""
    size = 19 + len(body) + 4

    def header(f: int) -> bytes:
        return struct.pack("<IBIIIH", 1_700_000_000, kind, 7, size, 4 + size, f)

    crc = zlib.crc32(header(flags if crc_flags is None else crc_flags) + body)
    return b"\x00" + header(flags) + body + struct.pack("<I", crc)


BODY = struct.pack("<H", 4) + b"5.7.38".ljust(50, b"\x00") + bytes(10)


def test_a_well_formed_event_passes_the_residue_check() -> None:
    assert zlib.crc32(_event(FORMAT_DESCRIPTION, 0, BODY)[1:]) == CRC32_RESIDUE


def test_obbinlog_format_description_in_use_flag_outside_its_crc_is_accepted() -> None:
    """obbinlog sends the active file's FORMAT_DESCRIPTION flag set, its CRC32 computed with the flag clear."""
    data = _event(FORMAT_DESCRIPTION, IN_USE, BODY, crc_flags=0)
    assert zlib.crc32(data[1:]) != CRC32_RESIDUE, "the plain check fails on it"
    assert in_use_crc(FORMAT_DESCRIPTION, data)


def test_only_that_flag_and_only_that_event_are_forgiven() -> None:
    corrupt = bytearray(_event(FORMAT_DESCRIPTION, IN_USE, BODY, crc_flags=0))
    corrupt[30] ^= 0xFF
    assert not in_use_crc(FORMAT_DESCRIPTION, bytes(corrupt))
    assert not in_use_crc(QUERY, _event(QUERY, IN_USE, BODY, crc_flags=0))
    assert not in_use_crc(FORMAT_DESCRIPTION, _event(FORMAT_DESCRIPTION, 0, BODY, crc_flags=IN_USE))
