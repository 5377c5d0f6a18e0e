"""
A chunk's key values through JSON (XCom): values JSON cannot hold (Decimal, datetime, date, time, timedelta,
bytes) are written as one-key tagged objects such as `{"$decimal": "1.50"}`, and read back to their exact
types. `engine.snapshot.chunking` writes its chunks' bounds with them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

__all__ = ["Key", "decode_key", "encode_key"]

Key = tuple[Any, ...]

_ENCODERS: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (Decimal, "$decimal", str),
    (datetime, "$datetime", datetime.isoformat),  # before date: datetime is a date
    (date, "$date", date.isoformat),
    (time, "$time", time.isoformat),
    (timedelta, "$timedelta", lambda td: td // timedelta(microseconds=1)),
    (bytes, "$bytes", lambda raw: base64.b64encode(raw).decode("ascii")),
    (bytearray, "$bytes", lambda raw: base64.b64encode(bytes(raw)).decode("ascii")),
)
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$decimal": Decimal,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$timedelta": lambda micros: timedelta(microseconds=int(micros)),
    "$bytes": lambda text: base64.b64decode(text.encode("ascii"), validate=True),
}


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    for kind, tag, encode in _ENCODERS:
        if isinstance(value, kind):
            return {tag: encode(value)}
    raise TypeError(f"cannot carry a {type(value).__name__} key value through JSON: {value!r}")


def _decode_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    if len(value) != 1 or next(iter(value)) not in _DECODERS:
        raise ValueError(f"unknown tagged key value {dict(value)!r}; known tags: {', '.join(_DECODERS)}")
    tag, text = next(iter(value.items()))
    return _DECODERS[tag](text)


def encode_key(key: Sequence[Any] | None) -> list[Any] | None:
    """A key tuple as a JSON-safe list (tagged objects for Decimal, datetimes, timedelta, bytes)."""
    return None if key is None else [_encode_value(value) for value in key]


def decode_key(data: Sequence[Any] | None) -> Key | None:
    """The key tuple `encode_key` wrote, with every value back to its exact type."""
    return None if data is None else tuple(_decode_value(value) for value in data)
