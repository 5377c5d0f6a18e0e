"""
OMS Partitioning Rules (Hash, One) as Kafka produce settings, and Kafka's own murmur2 key hash.

Hash: the message key is built from the shard columns (default: the primary key, else a NOT NULL unique
key), and the producer picks the partition with librdkafka's `partitioner=murmur2_random`, which computes
the Java client's `toPositive(murmur2(key)) % partitions`. The same key therefore lands in the same
partition on every host and run, and a Java producer writing the same key agrees. `partition_for_key`
computes that partition here, for checks and tests. librdkafka's default partitioner (`consistent_random`,
CRC32) does NOT agree with Java: producers must set `PartitionRule.producer_config`.

One: every message goes explicitly to partition 0, which then holds the whole order (OMS FAQ: "queue 0").

A message without a key under Hash (a table with no primary key, no NOT NULL unique key and no shard
columns) goes to partition `null_key_partition`, 0 by default: the changes of such a table then keep their
order, and the placement is deterministic. `null_key_partition=None` leaves it to murmur2_random instead,
which spreads keyless messages at random (more throughput, no order among them). OMS documents neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from airflow_provider_obkafka.exceptions import ConfigError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = [
    "LIBRDKAFKA_PARTITIONER", "PartitionRule", "choose_partition_key_columns", "murmur2", "partition_for_key",
    "partition_rule", "to_positive",
]  # fmt: skip

LIBRDKAFKA_PARTITIONER = "murmur2_random"
_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """
    Kafka's murmur2 as a signed int32: Java `o.a.k.common.utils.Utils.murmur2`, librdkafka `rd_murmur2`.

    :param data: the key bytes
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = ((h * _M) & _MASK32) ^ k
    rest = length & 3
    if rest:
        h ^= int.from_bytes(data[tail:], "little")
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Java's `Utils.toPositive`: clear the sign bit (not `abs`, which overflows on Integer.MIN_VALUE)."""
    return number & 0x7FFFFFFF


def partition_for_key(key: bytes, partitions: int) -> int:
    """
    The partition a keyed message lands in: `toPositive(murmur2(key)) % partitions`.

    Java's DefaultPartitioner / BuiltInPartitioner and librdkafka's murmur2(_random) partitioners agree.

    :param key: the message key bytes
    :param partitions: the topic's partition count, at least 1
    """
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise ValueError(f"partitions must be an int >= 1, got {partitions!r}")
    return to_positive(murmur2(key)) % partitions


@dataclass(frozen=True)
class PartitionRule:
    """
    How the messages of a project choose their partition.

    :param rule: `Hash` or `One` (OMS Partitioning Rules)
    :param fixed_partition: the partition of every message (One: 0), or None to hash the key (Hash)
    :param null_key_partition: under Hash, the partition of keyless messages; None spreads them at random
    """

    rule: str
    fixed_partition: int | None
    null_key_partition: int | None = 0

    @property
    def producer_config(self) -> dict[str, str]:
        """Settings the producer needs so librdkafka hashes keys as Java does."""
        return {"partitioner": LIBRDKAFKA_PARTITIONER}

    def partition_for(self, key: bytes | None) -> int | None:
        """The `partition` argument for `produce()`; None: leave it out, the partitioner hashes the key."""
        if self.fixed_partition is not None:
            return self.fixed_partition
        return self.null_key_partition if key is None else None

    def expected_partition(self, key: bytes | None, partitions: int) -> int | None:
        """The partition the message lands in, given the topic's partition count; None when random."""
        explicit = self.partition_for(key)
        if explicit is not None or key is None:
            return explicit
        return partition_for_key(key, partitions)


def partition_rule(rule: str, *, null_key_partition: int | None = 0) -> PartitionRule:
    """
    The produce settings of an OMS partitioning rule.

    :param rule: `Hash` or `One`, any case (the project model's `Partitioning` members work too)
    :param null_key_partition: under Hash, where keyless messages go: 0 by default (ordered and
        deterministic), or None to let murmur2_random spread them at random
    """
    name = str(rule.value if isinstance(rule, Enum) else rule).strip().lower()
    if null_key_partition is not None and (isinstance(null_key_partition, bool) or null_key_partition < 0):
        raise ConfigError(
            f"null_key_partition must be a partition number >= 0 or None, got {null_key_partition!r}"
        )
    if name == "one":
        return PartitionRule("One", fixed_partition=0, null_key_partition=0)
    if name == "hash":
        return PartitionRule("Hash", fixed_partition=None, null_key_partition=null_key_partition)
    raise ConfigError(f"unknown partitioning rule {rule!r}: use Hash or One")


def choose_partition_key_columns(schema: TableSchema, shard_columns: Sequence[str] | None) -> tuple[str, ...]:
    """
    The columns whose values make a message's key: the shard columns, else the primary key, else the first
    NOT NULL unique key, else none (keyless messages, see the module docstring).

    :param schema: the table
    :param shard_columns: OMS Shard Columns of the table; None or empty for the default
    """
    if not shard_columns:
        return schema.row_key()
    missing = [name for name in shard_columns if name not in schema.column_names]
    if missing:
        raise SchemaError(
            f"shard column(s) {', '.join(map(repr, missing))} of table {schema.ref} do not exist; "
            f"its columns are: {', '.join(schema.column_names)}"
        )
    return tuple(shard_columns)
