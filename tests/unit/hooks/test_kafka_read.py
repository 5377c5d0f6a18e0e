"""The offsets read of a checkpoint or verification read: which Kafka errors it waits out."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from airflow_provider_obkafka.hooks.kafka_read import watermarks


class _Offsets:
    """The consumer's offsets call answering `errors` first (test double of `Consumer.get_watermark_offsets`)."""

    def __init__(self, *errors: int) -> None:
        self.errors, self.calls = list(errors), 0

    def get_watermark_offsets(self, partition, timeout, cached):
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 0, 42


def test_a_partition_the_client_does_not_know_yet_is_asked_again():
    """Seen in CI right after a broker stall: `Local: Unknown partition` from a new consumer's empty cache."""
    consumer = _Offsets(KafkaError._UNKNOWN_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
    assert watermarks(consumer, TopicPartition("t", 0)) == (0, 42)
    assert consumer.calls == 3


def test_other_errors_and_the_last_attempt_are_raised():
    with pytest.raises(KafkaException):
        watermarks(_Offsets(KafkaError.TOPIC_AUTHORIZATION_FAILED), TopicPartition("t", 0))
    with pytest.raises(KafkaException):
        watermarks(_Offsets(*[KafkaError._UNKNOWN_PARTITION] * 3), TopicPartition("t", 0), attempts=3)
