"""TransactionalSink against the real broker: what a failed delivery does to the transaction."""

from __future__ import annotations

import os

import pytest

from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink, sink_producer_config
from airflow_provider_obkafka.engine.routing.partitioning import partition_rule
from airflow_provider_obkafka.exceptions import DeliveryError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.topic import TopicSpec


@pytest.mark.compat
@pytest.mark.parametrize("producer_reports", [True, False], ids=["producer's callback", "per message"])
def test_a_rejected_message_fails_the_commit_and_nothing_is_visible(
    airflow_conn_env: None, unique_name: object, producer_reports: bool
) -> None:
    """
    The broker refuses a record over the topic's max.message.bytes: the delivery report reaches the sink
    (through the producer's own callback, or the one passed per message), the commit raises DeliveryError,
    and a read_committed consumer sees none of the transaction.
    """
    kafka = KafkaHook(kafka_config_id="kafka_default")
    topic, checkpoints = unique_name("small"), unique_name("cp")  # type: ignore[operator]
    kafka.create_topics([TopicSpec(topic, 1, 1, {"max.message.bytes": "2000"}), TopicSpec(checkpoints, 1)])
    config, reports = sink_producer_config()
    if not producer_reports:
        config.pop("on_delivery")
    producer = kafka.producer(unique_name("tid"), **config)  # type: ignore[operator]
    sink = TransactionalSink(producer, checkpoints, reports if producer_reports else None)
    send = sink.sender(topic, partition_rule("Hash"))
    sink.begin()
    send(b"ok", b"small")
    send(b"big", os.urandom(20_000))  # random bytes: compression cannot bring it under the limit
    with pytest.raises(DeliveryError, match="not committed"):
        sink.commit(timeout=30)
    assert sink.failure is not None
    assert "too large" in sink.failure.str().lower() or "size" in sink.failure.str().lower()
    assert list(kafka.read_committed(topic, timeout=5)) == []
