"""
A fast decoder of binlog row images: the rows of a WRITE/UPDATE/DELETE rows event, straight from the event's
bytes into image tuples, with one function compiled per table layout (the speed of incremental sync).
`engine/binlog/reader.py` calls it on the raw rows events it reads.

It gives exactly the values pymysqlreplication's own decoder gives (same types, same text decoding, same
quirks such as YEAR 0 read as 1900), with zero dates and empty SETs already as the server's text, as
`engine/binlog/reader.py` turns them. Layouts it does not know (JSON, BIT, GEOMETRY, the pre-5.6 temporal
formats) get no decoder, nor do partial (MINIMAL) row images: the reader then uses the library's decoder.
No binlog library is imported here: `FastRows` reads the library's TABLE_MAP columns duck-typed, turned into
`ColumnSpec`s.
"""

from __future__ import annotations

import codecs
import datetime
import decimal
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DELETE_ROWS", "INSERT_ROWS", "UPDATE_ROWS", "ColumnSpec", "FastRows", "RowsDecoder", "column_spec",
    "compile_decoder",
]  # fmt: skip

# MySQL column type codes in a TABLE_MAP event (the FIELD_TYPE constants).
TINY, SHORT, LONG, FLOAT, DOUBLE, LONGLONG, INT24, DATE, YEAR = 1, 2, 3, 4, 5, 8, 9, 10, 13
VARCHAR, TIMESTAMP2, DATETIME2, TIME2, NEWDECIMAL = 15, 17, 18, 19, 246
ENUM, SET, BLOB, STRING = 247, 248, 252, 254
_FIXED = {  # type -> (struct format signed, unsigned)
    TINY: ("<b", "<B"), SHORT: ("<h", "<H"), LONG: ("<i", "<I"), LONGLONG: ("<q", "<Q"),
    FLOAT: ("<f", "<f"), DOUBLE: ("<d", "<d"),
}  # fmt: skip
_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
_FSP_BYTES = (0, 1, 1, 2, 2, 3, 3)
_UTC_FROM_TS = datetime.datetime.utcfromtimestamp


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """
    What decoding one column needs, as the TABLE_MAP (and the described schema) tell it.

    :param type: the MySQL type code (ENUM/SET as resolved from a STRING column's metadata)
    :param unsigned: integer columns: UNSIGNED
    :param length: VARCHAR/STRING: max length in bytes; BLOB: bytes of the length prefix; ENUM/SET: size
    :param precision: NEWDECIMAL precision
    :param decimals: NEWDECIMAL scale
    :param fsp: fractional seconds digits of TIME2/DATETIME2/TIMESTAMP2
    :param charset: the column's character set name as the TABLE_MAP gives it, or None
    :param values: ENUM members (index 0 the empty string) or SET members; None when unknown
    """

    type: int
    unsigned: bool = False
    length: int = 0
    precision: int = 0
    decimals: int = 0
    fsp: int = 0
    charset: str | None = None
    values: tuple[str, ...] | None = None


def _encoding(charset: str) -> str | None:
    """Python codec of a MySQL charset name, as pymysqlreplication picks it; None: keep the bytes."""
    from pymysql.charset import charset_by_name

    found = charset_by_name(charset)
    name = found.encoding if found else charset
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def _fsp_code(fsp: int, at: str, *, clamp: bool = True) -> tuple[str, int]:
    """Expression of the microseconds of a fractional-seconds part at `d[at:]` (big-endian, signed, as the
    library reads it; with `clamp` a negative value counts as 0: the library applies only values > 0 to
    DATETIME2/TIMESTAMP2), and its size in bytes. Clamped, it reads the bytes unsigned and tests the sign
    bit, which gives the library's `max(int(signed / 10) * scale, 0)` without a keyword call or a float."""
    size = _FSP_BYTES[fsp]
    if not size:
        return "0", 0
    scale = 10 ** (6 - fsp)
    if clamp:
        raw = f"d[{at}]" if size == 1 else f"from_bytes(d[{at}:{at} + {size}], 'big')"
        value = f"u // 10 * {scale}" if fsp % 2 else f"u * {scale}"
        return f"(0 if (u := {raw}) >> {8 * size - 1} else {value})", size
    raw = f"from_bytes(d[{at}:{at} + {size}], 'big', signed=True)"
    return (f"int({raw} / 10) * {scale}" if fsp % 2 else f"{raw} * {scale}"), size


def _decimal_code(v: str, spec: ColumnSpec) -> list[str]:
    """
    NEWDECIMAL: the library builds "[-]head.groups" text from the bytes (sign bit flipped, every group
    complemented when negative) and calls `Decimal(text)`. The same value with the same exponent is
    `Decimal("<all digits as one integer>e-<scale>")`, built here from one big-endian integer.
    """
    integral = spec.precision - spec.decimals
    full_int, full_frac = integral // 9, spec.decimals // 9
    rest_int, rest_frac = integral - full_int * 9, spec.decimals - full_frac * 9
    parts = [(_DIG2BYTES[rest_int], rest_int), *[(4, 9)] * (full_int + full_frac)]
    parts = [(size, digits) for size, digits in [*parts, (_DIG2BYTES[rest_frac], rest_frac)] if size]
    size = sum(part for part, _ in parts)
    sign_bit, every = 1 << (8 * size - 1), (1 << (8 * size)) - 1
    shift, terms = 8 * size, []
    for part, digits in parts:
        shift -= 8 * part
        terms.append((f"(x >> {shift}) & {(1 << 8 * part) - 1}", digits))
    number = terms[0][0]
    for term, digits in terms[1:]:
        number = f"({number}) * {10**digits} + ({term})"
    return [
        f"x = from_bytes(d[p:p + {size}], 'big')",
        f"p += {size}",
        f"if x & {sign_bit}:",
        f"    x ^= {sign_bit}",
        f"    {v} = Decimal(str({number}) + {f'e-{spec.decimals}'!r})",
        "else:",
        f"    x ^= {every ^ sign_bit}",
        f"    {v} = Decimal('-' + str({number}) + {f'e-{spec.decimals}'!r})",
    ]


def _datetime2_code(v: str, fsp: int) -> list[str]:
    """DATETIME2: 5 bytes of bit fields, then the fraction; an invalid date (zero date) is the zero text."""
    us, size = _fsp_code(fsp, "p + 5")
    zero = "0000-00-00 00:00:00" + ("." + "0" * fsp if fsp else "")
    return [
        "x = from_bytes(d[p:p + 5], 'big')",
        "ym = (x >> 22) & 0x1FFFF",
        f"us = {us}",
        f"p += {5 + size}",
        "try:",
        f"    {v} = DT(ym // 13, ym % 13, (x >> 17) & 31, (x >> 12) & 31, (x >> 6) & 63, x & 63, us)",
        "except ValueError:",
        f"    {v} = {zero!r}",
    ]


def _timestamp2_code(v: str, fsp: int) -> list[str]:
    us, size = _fsp_code(fsp, "p + 4")
    read = "utc(from_bytes(d[p:p + 4], 'big', signed=True))"
    if not size:
        return [f"{v} = {read}", "p += 4"]
    return [
        f"us = {us}",
        f"{v} = {read}",
        "if us:",
        f"    {v} = {v}.replace(microsecond=us)",
        f"p += {4 + size}",
    ]


def _time2_code(v: str, fsp: int) -> list[str]:
    us, size = _fsp_code(fsp, "p + 3", clamp=False)  # TIME2 passes the fraction as it is, sign and all
    return [
        "x = from_bytes(d[p:p + 3], 'big', signed=True)",
        "if (x >> 23) & 1:",
        f"    {v} = TD(hours=(x >> 12) & 0x3FF, minutes=(x >> 6) & 63, seconds=x & 63, microseconds={us})",
        "else:",
        "    x = ~x + 1",
        f"    {v} = -TD(hours=(x >> 12) & 0x3FF, minutes=(x >> 6) & 63, seconds=x & 63, microseconds={us})",
        f"p += {3 + size}",
    ]


def _date(x: int) -> Any:
    if x == 0:
        return "0000-00-00"
    year, month, day = (x >> 9) & 0x7FFF, (x >> 5) & 15, x & 31
    if year == 0 or month == 0 or day == 0:
        return "0000-00-00"
    return datetime.date(year, month, day)


def _column_code(i: int, spec: ColumnSpec, ns: dict[str, Any], errors: str) -> list[str] | None:
    """Source lines that set `v{i}` from `d` at `p` and advance `p`; None for an unsupported type."""
    t, v = spec.type, f"v{i}"
    if t in _FIXED:
        fmt = _FIXED[t][1 if spec.unsigned else 0]
        ns[f"u{i}"] = struct.Struct(fmt).unpack_from
        return [f"{v} = u{i}(d, p)[0]", f"p += {struct.calcsize(fmt)}"]
    if t == INT24:
        return [f"{v} = from_bytes(d[p:p + 3], 'little', signed={not spec.unsigned})", "p += 3"]
    if t == YEAR:
        return [f"{v} = d[p] + 1900", "p += 1"]
    if t in (VARCHAR, STRING, BLOB):
        return _string_code(v, spec, errors)
    if t == NEWDECIMAL:
        return _decimal_code(v, spec)
    if t == DATETIME2:
        return _datetime2_code(v, spec.fsp)
    if t == TIMESTAMP2:
        return _timestamp2_code(v, spec.fsp)
    if t == TIME2:
        return _time2_code(v, spec.fsp)
    if t == DATE:
        return [f"{v} = date(from_bytes(d[p:p + 3], 'little'))", "p += 3"]
    if t == ENUM:
        ns[f"e{i}"] = spec.values
        read = f"from_bytes(d[p:p + {spec.length}], 'little')"
        return [f"{v} = e{i}[{read}] if e{i} else None", f"p += {spec.length}"]
    if t == SET:
        ns[f"e{i}"] = tuple(enumerate(spec.values or ()))
        return [f"m = from_bytes(d[p:p + {spec.length}], 'little')", f"p += {spec.length}",
                f"{v} = {{val for k, val in e{i} if m & (1 << k)}} or ''"]  # fmt: skip
    return None


def _string_code(v: str, spec: ColumnSpec, errors: str) -> list[str]:
    """VARCHAR/CHAR (1 or 2 length bytes), TEXT/BLOB (1-4): bytes, decoded as the library decodes them."""
    size = spec.length if spec.type == BLOB else (2 if spec.length > 255 else 1)
    length = {1: "d[p]", 2: "d[p] | d[p + 1] << 8"}.get(size, f"from_bytes(d[p:p + {size}], 'little')")
    lines = [f"n = p + {size} + ({length})", f"{v} = d[p + {size}:n]", "p = n"]
    if spec.charset is None:
        lines.append(f"{v} = {v}.decode(errors={errors!r})")
    elif (encoding := _encoding(spec.charset)) is not None:
        lines.append(f"{v} = {v}.decode({encoding!r}, {errors!r})")
    else:  # kept as bytes, but b"".decode(<unknown codec>) gives "" without a lookup: so does the library
        lines.append(f"{v} = {v} or ''")
    return lines


RowsDecoder = Callable[[bytes, int, int, int], list[Any]]
INSERT_ROWS, DELETE_ROWS, UPDATE_ROWS = 0, 1, 2  # a decoder's modes


def compile_decoder(specs: Sequence[ColumnSpec], *, ignore_decode_errors: bool = False) -> RowsDecoder | None:
    """
    A decoder for full row images of a table with these columns, or None when a column type is not
    supported. `decoder(data, pos, end, mode)` returns the `(before, after)` pairs of the rows in
    `data[pos:end]`: `(None, image)` for mode `INSERT_ROWS`, `(image, None)` for `DELETE_ROWS`, and a
    before and an after image for `UPDATE_ROWS`.
    """
    ns: dict[str, Any] = {"from_bytes": int.from_bytes, "date": _date, "Decimal": decimal.Decimal,
                          "DT": datetime.datetime, "TD": datetime.timedelta, "utc": _UTC_FROM_TS}  # fmt: skip
    errors = "ignore" if ignore_decode_errors else "strict"
    null_bytes = (len(specs) + 7) // 8
    nulls = "d[p]" if null_bytes == 1 else f"from_bytes(d[p:p + {null_bytes}], 'little')"
    image = [f"nulls = {nulls}", f"p += {null_bytes}"]
    for i, spec in enumerate(specs):
        code = _column_code(i, spec, ns, errors)
        if code is None:
            return None
        image += [f"if nulls & {1 << i}:", f"    v{i} = None", "else:", *(f"    {line}" for line in code)]
    values = "(" + "".join(f"v{i}, " for i in range(len(specs))) + ")"
    inline = [f"        {line}" for line in image]
    source = "\n".join(
        ["def image(d, p):", *(f"    {line}" for line in image), f"    return {values}, p",
         "def rows(d, p, end, mode):", "    out = []", "    append = out.append",
         f"    if mode == {UPDATE_ROWS}:",
         "        while p < end:", "            b, p = image(d, p)", "            a, p = image(d, p)",
         "            append((b, a))", "        return out",
         f"    if mode == {INSERT_ROWS}:",
         "        while p < end:", *(f"    {line}" for line in inline), f"            append((None, {values}))",
         "        return out",
         "    while p < end:", *inline, f"        append(({values}, None))",
         "    return out", ""]
    )  # fmt: skip
    exec(compile(source, "<binlog row decoder>", "exec"), ns)
    return ns["rows"]  # type: ignore[no-any-return]


def column_spec(column: Any) -> ColumnSpec:
    """A library TABLE_MAP column (after `_TableMapper.prepare`) as the fast decoder's `ColumnSpec`."""
    kind = column.type
    length = column.max_length if kind in (VARCHAR, STRING) else getattr(column, "length_size", 0)
    values = column.enum_values if kind == ENUM else column.set_values if kind == SET else None
    return ColumnSpec(
        kind, bool(column.unsigned), getattr(column, "size", 0) if kind in (ENUM, SET) else length or 0,
        getattr(column, "precision", 0), getattr(column, "decimals", 0), getattr(column, "fsp", 0) or 0,
        column.character_set_name, None if values is None else tuple(values),
    )  # fmt: skip


class FastRows:
    """Compiled row decoders, one per table layout, shared by the tables of one layout."""

    def __init__(self) -> None:
        self.decoders: dict[tuple[ColumnSpec, ...], RowsDecoder | None] = {}

    def for_columns(self, columns: Sequence[Any]) -> RowsDecoder | None:
        """The decoder of these TABLE_MAP columns (library `Column`s, names and types completed), or None."""
        specs = tuple(column_spec(column) for column in columns)
        if specs not in self.decoders:
            self.decoders[specs] = compile_decoder(specs)
        return self.decoders[specs]
