"""Messages too large for Kafka: the size and limit arithmetic, and each `oversize_rows` policy at the sender."""

from __future__ import annotations

import json
import logging
import zlib

import pytest

from airflow_provider_obkafka.engine.kafka.oversize import (
    MESSAGE_OVERHEAD,
    MessageLimit,
    OversizeCounts,
    OversizeGuard,
    message_limit,
    message_size,
)
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.engine.pipeline.full import Progress, sync_rows
from airflow_provider_obkafka.engine.routing.partitioning import partition_rule
from airflow_provider_obkafka.exceptions import MessageTooLargeError
from airflow_provider_obkafka.models.oversize import OversizeRows

LIMIT = MessageLimit(1000, "topic t's max.message.bytes")
MOST = 1000 - MESSAGE_OVERHEAD  # key + value bytes that still fit


class FakeProducer:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def produce(self, topic, value=None, key=None, partition=-1, on_delivery=None):
        self.calls.append((topic, value, key))

    def poll(self, timeout):
        pass


def guarded(policy: OversizeRows) -> tuple[FakeProducer, OversizeGuard, object]:
    producer = FakeProducer()
    guard = OversizeGuard(policy, LIMIT, "shop.blobs", lambda: "shop.blobs chunk 0", OversizeCounts(),
                          ("__obkafka_dead_letter.p", "p"))
    send = TransactionalSink(producer, "checkpoints").sender("t", partition_rule("Hash"), guard)
    return producer, guard, send


def test_message_size_counts_key_value_and_the_record_and_batch_overhead():
    assert message_size(b"k1", b"x" * 10) == 12 + MESSAGE_OVERHEAD
    assert message_size(None, None) == MESSAGE_OVERHEAD
    assert MESSAGE_OVERHEAD >= 36 + 61  # librdkafka's v2 record overhead and a batch header


def test_the_limit_is_the_smaller_of_producer_and_topic_with_what_sets_it():
    assert message_limit(None, "t", None) == (1_000_000, message_limit(None, "t", None).setting)
    assert "librdkafka's default" in message_limit(None, "t", None).setting
    assert message_limit(None, "t", "524288") == (524288, "topic t's max.message.bytes")
    assert message_limit("300000", "t", 524288).bytes == 300000
    assert "producer's message.max.bytes" in message_limit("300000", "t", 524288).setting
    assert message_limit(None, "t", 2_000_000).bytes == 1_000_000


def test_a_message_that_fits_exactly_is_produced():
    producer, guard, send = guarded(OversizeRows.FAIL)
    assert send(b"k", b"x" * (MOST - 1)) is True
    assert producer.calls == [("t", b"x" * (MOST - 1), b"k")]


def test_fail_raises_naming_table_key_size_limit_setting_and_fix_and_produces_nothing():
    producer, guard, send = guarded(OversizeRows.FAIL)
    with pytest.raises(MessageTooLargeError) as caught:
        send(b"k42", b"x" * MOST)
    text = str(caught.value)
    size = MOST + 3 + MESSAGE_OVERHEAD
    for word in ("shop.blobs", "k42", f"{size} bytes", "1000 bytes", "topic t's max.message.bytes",
                 "shop.blobs chunk 0", "message.max.bytes", "oversize_rows: skip or dead_letter"):
        assert word in text
    assert producer.calls == []


def test_skip_leaves_the_row_out_counts_it_and_warns(caplog):
    producer, guard, send = guarded(OversizeRows.SKIP)
    with caplog.at_level(logging.WARNING):
        assert send(b"k42", b"x" * 5000) is False
    assert producer.calls == []
    assert guard.counts.pending == {"shop.blobs": 1}
    line = caplog.records[-1].getMessage()
    for word in ("shop.blobs", "k42", str(5003 + MESSAGE_OVERHEAD), "1000", "shop.blobs chunk 0", "skipped"):
        assert word in line
    guard.counts.settle()
    assert guard.counts.committed == {"shop.blobs": 1} and not guard.counts.pending


def test_dead_letter_sends_a_small_record_naming_the_row_and_not_its_payload():
    producer, guard, send = guarded(OversizeRows.DEAD_LETTER)
    assert send(b"k42", b"x" * 5000) is False
    [(topic, value, key)] = producer.calls
    assert (topic, key) == ("__obkafka_dead_letter.p", b"k42")
    record = json.loads(value)
    assert record == {"project": "p", "table": "shop.blobs", "key": "k42", "position": "shop.blobs chunk 0",
                      "size": 5003 + MESSAGE_OVERHEAD, "limit": 1000, "limit_setting": LIMIT.setting,
                      "reason": "message too large for Kafka"}
    assert len(value) < 1000


def test_an_aborted_transaction_drops_its_counts():
    counts = OversizeCounts()
    counts.pending["a.b"] += 2
    counts.drop()
    counts.settle()
    assert not counts.committed


def test_sync_rows_leaves_a_diverted_row_out_of_rows_and_checksum():
    producer, guard, send = guarded(OversizeRows.SKIP)
    rows = [[(1, b"a"), (2, b"x" * 5000)], [(3, b"c")]]
    result = sync_rows(iter(rows), lambda row: (str(row[0]).encode(), row[1]), send, Progress("c", None))
    assert result.rows == 2
    assert result.checksum == zlib.crc32(b"a") + zlib.crc32(b"c")
    assert [call[2] for call in producer.calls] == [b"1", b"3"]
