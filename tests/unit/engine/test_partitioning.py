"""Kafka's murmur2 against the Java client's vectors, the Hash/One rules, and the partition key columns."""

from __future__ import annotations

import random
from enum import StrEnum

import pytest

from airflow_provider_obkafka.engine.routing.partitioning import (
    LIBRDKAFKA_PARTITIONER,
    PartitionRule,
    choose_partition_key_columns,
    murmur2,
    partition_for_key,
    partition_rule,
    to_positive,
)
from airflow_provider_obkafka.exceptions import ConfigError, SchemaError
from airflow_provider_obkafka.models.schema import Column, TableSchema, UniqueKey


class Partitioning(StrEnum):
    """The shape of the project model's rule enum (a str enum of Hash and One)."""

    HASH = "Hash"
    ONE = "One"


# org.apache.kafka.common.utils.UtilsTest#testMurmur2 (every tail length 0-3 is covered)
JAVA_VECTORS = [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
]


@pytest.mark.parametrize(("text", "expected"), JAVA_VECTORS)
def test_murmur2_matches_the_java_client(text, expected):
    assert murmur2(text.encode()) == expected


def reference_murmur2(data: bytes) -> int:
    """A line-by-line transcription of the Java code with explicit int32 wrapping, to cross-check."""

    def i32(value: int) -> int:
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value

    def ushr(value: int, bits: int) -> int:
        return (value & 0xFFFFFFFF) >> bits

    m, h = 0x5BD1E995, i32(0x9747B28C ^ len(data))
    for i in range(len(data) // 4):
        k = data[4 * i] + (data[4 * i + 1] << 8) + (data[4 * i + 2] << 16) + (data[4 * i + 3] << 24)
        k = i32(k * m)
        k = i32(k ^ ushr(k, 24))
        h = i32(i32(h * m) ^ i32(k * m))
    tail, rest = len(data) & ~3, len(data) % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h = i32(i32(h ^ data[tail]) * m)
    h = i32(h ^ ushr(h, 13))
    h = i32(h * m)
    return i32(h ^ ushr(h, 15))


@pytest.mark.parametrize("seed", range(10))
def test_property_murmur2_agrees_with_the_java_transcription(seed):
    rng = random.Random(seed)
    for length in range(0, 40):
        data = bytes(rng.randrange(256) for _ in range(length))
        assert murmur2(data) == reference_murmur2(data)
        assert -(2**31) <= murmur2(data) < 2**31


@pytest.mark.parametrize(
    ("number", "positive"), [(0, 0), (5, 5), (-1, 2**31 - 1), (-(2**31), 0), (-973932308, 1173551340)]
)
def test_to_positive_clears_the_sign_bit_like_java(number, positive):
    assert to_positive(number) == positive


@pytest.mark.parametrize(
    ("key", "partitions", "expected"),
    [
        (b"21", 3, 1173551340 % 3),
        (b"foobar", 1, 0),
        (b"abc", 7, 479470107 % 7),
        (b"a-little-bit-longer-string", 12, (-1486304829 & 0x7FFFFFFF) % 12),
        (b"", 3, to_positive(murmur2(b"")) % 3),
    ],
)
def test_partition_for_key(key, partitions, expected):
    assert partition_for_key(key, partitions) == expected


@pytest.mark.parametrize("partitions", [0, -3, True, 2.0])
def test_partition_count_must_be_positive(partitions):
    with pytest.raises(ValueError, match="partitions"):
        partition_for_key(b"k", partitions)


@pytest.mark.parametrize(
    ("rule", "null_key_partition", "expected"),
    [
        ("One", 0, PartitionRule("One", 0, 0)),
        ("one", None, PartitionRule("One", 0, 0)),
        (Partitioning.ONE, 0, PartitionRule("One", 0, 0)),
        ("Hash", 0, PartitionRule("Hash", None, 0)),
        (" HASH ", None, PartitionRule("Hash", None, None)),
        (Partitioning.HASH, 2, PartitionRule("Hash", None, 2)),
    ],
)
def test_partition_rule(rule, null_key_partition, expected):
    assert partition_rule(rule, null_key_partition=null_key_partition) == expected


@pytest.mark.parametrize(
    ("rule", "null_key_partition", "message"),
    [("Table", 0, "use Hash or One"), ("", 0, "unknown"), ("Hash", -1, ">= 0"), ("Hash", True, ">= 0")],
)
def test_partition_rule_errors(rule, null_key_partition, message):
    with pytest.raises(ConfigError, match=message):
        partition_rule(rule, null_key_partition=null_key_partition)


@pytest.mark.parametrize(
    ("rule", "key", "produce_partition", "lands_in"),
    [
        ("One", b"21", 0, 0),
        ("One", None, 0, 0),
        ("Hash", b"21", None, 1173551340 % 3),
        ("Hash", None, 0, 0),
    ],
)
def test_where_messages_go(rule, key, produce_partition, lands_in):
    chosen = partition_rule(rule)
    assert chosen.partition_for(key) == produce_partition
    assert chosen.expected_partition(key, 3) == lands_in
    assert (
        chosen.producer_config == {"partitioner": LIBRDKAFKA_PARTITIONER} == {"partitioner": "murmur2_random"}
    )


def test_keyless_messages_spread_at_random_when_asked():
    spread = partition_rule("Hash", null_key_partition=None)
    assert spread.partition_for(None) is None
    assert spread.expected_partition(None, 3) is None


def table(pk=(), uniques=()) -> TableSchema:
    cols = tuple(Column(name=n, position=i, data_type="int", column_type="int") for i, n in enumerate("abcd"))
    return TableSchema(database="shop", table="orders", columns=cols, primary_key=pk, unique_keys=uniques)


UK_NULL = UniqueKey(name="uk_d", columns=("d",), not_null=False)
UK_C = UniqueKey(name="uk_c", columns=("c",), not_null=True)


@pytest.mark.parametrize(
    ("schema", "shard", "expected"),
    [
        (table(pk=("a",), uniques=(UK_C,)), ["b", "c"], ("b", "c")),
        (table(pk=("a", "b")), None, ("a", "b")),
        (table(pk=("a",)), [], ("a",)),
        (table(uniques=(UK_NULL, UK_C)), None, ("c",)),
        (table(uniques=(UK_NULL,)), None, ()),
        (table(), None, ()),
    ],
)
def test_choose_partition_key_columns(schema, shard, expected):
    assert choose_partition_key_columns(schema, shard) == expected


def test_a_missing_shard_column_names_the_table_the_column_and_the_columns():
    with pytest.raises(SchemaError) as err:
        choose_partition_key_columns(table(pk=("a",)), ["a", "zz", "yy"])
    assert str(err.value) == (
        "shard column(s) 'zz', 'yy' of table shop.orders do not exist; its columns are: a, b, c, d"
    )
