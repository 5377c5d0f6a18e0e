"""
A row's identity in verification: its key values as a message renders them (`KeyPlan`), the digest of its state,
its hash bucket, and the chunk range it falls in (`RangeLocator`).

Both sides go through the same path: a source row is rendered by the project's serializer and read back by
the format's parser (`engine.verify.messages`), so the two sides compare rendered values with rendered values,
and time fields a format stamps at write time never enter a digest.
"""

from __future__ import annotations

import bisect
import hashlib
import zlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.change import KEY_SEPARATOR

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_obkafka.engine.changes.change import TableContext
    from airflow_provider_obkafka.engine.verify.messages import ParsedMessage

__all__ = ["KeyPlan", "Parts", "RangeLocator", "add_digest", "bucket_of", "state_digest"]

Parts = tuple[Any, ...]
SortKey = tuple[tuple[int, Any], ...]
_NUMERIC = frozenset({
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double",
    "real", "bit", "year",
})  # fmt: skip
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class KeyPlan:
    """
    How the rows of one table are told apart in its messages.

    :param columns: the row key (primary key, else a NOT NULL unique key); empty: the whole image is the identity
    :param numeric: per key column, whether its values order as numbers
    :param in_image: every key column is a synchronized column, so both images carry the key
    """

    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    in_image: bool

    @classmethod
    def of(cls, ctx: TableContext) -> KeyPlan:
        """The key plan of a table's serialization context."""
        columns = ctx.key_columns
        numeric = tuple(ctx.schema.column(name).data_type.lower() in _NUMERIC for name in columns)
        return cls(columns, numeric, all(name in ctx.columns for name in columns))

    def parts(self, message: ParsedMessage, image: dict[str, Any] | None) -> Parts | None:
        """The key values of `image` (a message's before or after image); None for a table without a key."""
        if not self.columns:
            return None
        if self.in_image and image is not None:
            return tuple(image.get(name) for name in self.columns)
        if message.row_key is not None:
            text = message.row_key
            return (text,) if len(self.columns) == 1 else tuple(text.split(KEY_SEPARATOR))
        raise ValueError(
            f"the message of {message.database}.{message.table} carries no row key: its key columns "
            f"({', '.join(self.columns)}) are not synchronized and the format has no key field"
        )

    def identity(self, parts: Parts | None, image: dict[str, Any] | None) -> bytes:
        """The identity bytes: the key values, or the whole image for a table without a key."""
        if parts is not None:
            return orjson.dumps(list(parts))
        return orjson.dumps(image, option=orjson.OPT_SORT_KEYS)

    def sort_key(self, parts: Parts) -> SortKey:
        """Key values ordered as the source orders them: numbers as numbers, the rest as text."""
        return tuple(_order_value(value, numeric) for value, numeric in zip(parts, self.numeric, strict=True))

    def describe(self, identity: bytes) -> str:
        """`id=5` (`a=1, b=x` for a composite key) from identity bytes, for reports."""
        values = orjson.loads(identity)
        if not self.columns or not isinstance(values, list):
            return f"row {identity.decode('utf-8', 'replace')}"
        return ", ".join(f"{name}={value}" for name, value in zip(self.columns, values, strict=False))


def _order_value(value: Any, numeric: bool) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if numeric or isinstance(value, int | float):
        try:
            return (1, Decimal(str(value)))
        except InvalidOperation:
            pass
    return (2, str(value))


def state_digest(identity: bytes, image: dict[str, Any] | None) -> int:
    """A 64-bit digest of a row's identity and rendered image (keys sorted); 0 never comes out of it."""
    body = orjson.dumps(image, option=orjson.OPT_SORT_KEYS)
    digest = int.from_bytes(hashlib.blake2b(identity + b"\x00" + body, digest_size=8).digest(), "big")
    return digest or 1


def add_digest(total: int, digest: int) -> int:
    """An order-independent checksum: the sum of digests modulo 2^64."""
    return (total + digest) & _MASK


def bucket_of(identity: bytes, buckets: int) -> int:
    """The hash bucket (0 .. buckets-1) of an identity; one pass of a bounded-memory comparison takes one."""
    return zlib.crc32(identity) % buckets if buckets > 1 else 0


class RangeLocator:
    """
    The chunk range a key falls in, from the chunks' rendered upper bounds (`[lower_i, upper_i)`, in order).

    :param uppers: the sort keys of every chunk's upper bound but the last one's (None: to the end)
    """

    def __init__(self, uppers: Sequence[SortKey]) -> None:
        self.uppers = list(uppers)
        if self.uppers != sorted(self.uppers):
            raise ValueError("chunk bounds do not order as their rendered values: the ranges cannot be located")

    def locate(self, key: SortKey) -> int:
        """The index of the chunk holding `key`."""
        return bisect.bisect_right(self.uppers, key)
