"""
One table under verification (`TableCheck`): how its rows are rendered and read back, told apart and placed
in their chunk range, and the running count and checksum of a range (`Tally`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_obkafka.engine.verify.keys import KeyPlan, Parts, RangeLocator, add_digest, state_digest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_obkafka.engine.changes.change import TableContext
    from airflow_provider_obkafka.engine.pipeline.full import Encode
    from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
    from airflow_provider_obkafka.engine.verify.messages import ParsedMessage, Parser

__all__ = ["Read", "TableCheck", "Tally", "TopicMessage", "range_text"]


class TopicMessage(NamedTuple):
    """One committed message of a topic, as a `read_committed` consumer gives it."""

    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp_ms: int


class Read(NamedTuple):
    """A row as verification sees it: identity, state digest, CRC32 of the message bytes, key values."""

    identity: bytes
    digest: int
    crc: int
    parts: Parts | None


@dataclass
class Tally:
    """A range's running row count, checksum of row digests, and sum of message CRC32s (the done-record's)."""

    rows: int = 0
    checksum: int = 0
    crc: int = 0

    def add(self, digest: int, crc: int) -> None:
        """Count one row."""
        self.rows += 1
        self.checksum = add_digest(self.checksum, digest)
        self.crc = (self.crc + crc) & ((1 << 64) - 1)


def range_text(chunk: Chunk) -> str:
    """`chunk 3 [(10,), (20,))`: the chunk's index and bounds, without the table."""
    text = chunk.describe()
    prefix = f"{chunk.table} "
    return text[len(prefix):] if text.startswith(prefix) else text


@dataclass
class TableCheck:
    """
    A table under verification.

    :param ctx: the table's serialization context, as the sync builds it
    :param topic: the table's topic
    :param encode: row tuple (in `ctx.image_columns` order) -> (Kafka key, value), the full sync's encoder
    :param parser: the serialization method's parser
    :param deterministic: the method writes the same bytes for the same row (no write-time clock)
    :param chunks: the full sync's chunks of the table, in key order
    :param records: the full sync's done-records by chunk index
    """

    ctx: TableContext
    topic: str
    encode: Encode
    parser: Parser
    deterministic: bool = False
    chunks: Sequence[Chunk] = ()
    records: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    keys: KeyPlan = field(init=False)
    locator: RangeLocator | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.keys = KeyPlan.of(self.ctx)
        if len(self.chunks) > 1:
            self.locator = RangeLocator([self._bound_key(chunk) for chunk in self.chunks[:-1]])

    @property
    def name(self) -> str:
        """`database.table`."""
        return str(self.ctx.schema.ref)

    def owns(self, message: ParsedMessage) -> bool:
        """The message is this table's (Default names `tenant.database` on OceanBase)."""
        ctx = self.ctx
        return message.table == ctx.table and message.database in (ctx.database, ctx.db_name)

    def read_row(self, row: tuple[Any, ...]) -> Read:
        """A source row rendered by the project's serializer and read back."""
        _, value = self.encode(row)
        message = self.parser(value)
        return self._read(message, message.after, zlib.crc32(value))

    def read_image(self, message: ParsedMessage, image: dict[str, Any] | None, crc: int = 0) -> Read:
        """One image of a topic message."""
        return self._read(message, image, crc)

    def _read(self, message: ParsedMessage, image: dict[str, Any] | None, crc: int) -> Read:
        parts = self.keys.parts(message, image)
        identity = self.keys.identity(parts, image)
        return Read(identity, state_digest(identity, image), crc, parts)

    def locate(self, parts: Parts | None) -> int:
        """The index of the chunk a key falls in (0 for a table read in one chunk)."""
        if self.locator is None or parts is None:
            return 0
        return self.locator.locate(self.keys.sort_key(parts))

    def _bound_key(self, chunk: Chunk) -> Any:
        """A chunk's upper bound rendered and read back as a row would be, as a sort key."""
        if tuple(chunk.key_columns) != self.keys.columns:
            raise ValueError(
                f"{self.name}: chunked on ({', '.join(chunk.key_columns)}), not on its row key "
                f"({', '.join(self.keys.columns)}): verify cannot place messages in its chunks"
            )
        assert chunk.upper is not None
        bound = dict(zip(chunk.key_columns, chunk.upper, strict=True))
        row = tuple(bound.get(name) for name in self.ctx.image_columns)
        _, value = self.encode(row)
        message = self.parser(value)
        parts = self.keys.parts(message, message.after)
        assert parts is not None
        return self.keys.sort_key(parts)

