"""TransactionalSink against the real broker: what a failed delivery does to the transaction, and its timeout."""

from __future__ import annotations

import os
import time

import pytest

from airflow_provider_obkafka.engine.kafka.checkpoints import checkpoint_topic_spec
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink, sink_producer_config
from airflow_provider_obkafka.engine.routing.partitioning import partition_rule
from airflow_provider_obkafka.exceptions import DeliveryError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.operators._io import range_io


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
    config, reports = sink_producer_config(60_000)
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


def _project(name: str, **options: object):
    return parse_project({"name": name, "sync_types": ["incremental"], "options": options, "objects": [
        {"database": "d", "tables": ["t"], "topic": {"mode": "existing", "name": "d.t"}}]})  # fmt: skip


def _open_for(project, topic: str, tid: str, seconds: float) -> TransactionalSink:
    """The operators' sink of `project` (`range_io`), with one message in a transaction left open `seconds`."""
    sink = range_io(project).sink(tid)
    sink.begin()
    sink.send(topic, b"v", b"k")
    sink.producer.flush(30)
    time.sleep(seconds)
    return sink


def test_the_projects_transaction_timeout_reaches_the_producer(airflow_conn_env, unique_name):
    """A 3 s transaction timeout: the broker aborts a transaction left open longer, and the commit fails."""
    kafka = KafkaHook()
    project = _project(unique_name("p"), transaction_timeout_ms=3000)
    topic = unique_name("t")
    kafka.create_topics([TopicSpec(topic, 1), checkpoint_topic_spec(project.checkpoint_topic, kafka.broker_count())])
    sink = _open_for(project, topic, unique_name("tid"), 16)  # the broker looks for expired ones every 10 s
    with pytest.raises(DeliveryError, match="not committed"):
        sink.commit(timeout=30)
    assert kafka.read_committed(topic, timeout=30) == []


def test_a_transaction_open_longer_than_a_minute_commits_by_default(airflow_conn_env, unique_name):
    """librdkafka's own default (60 s) would have the broker abort it; the project's default (15 min) does not."""
    kafka = KafkaHook()
    project = _project(unique_name("p"))
    topic = unique_name("t")
    kafka.create_topics([TopicSpec(topic, 1), checkpoint_topic_spec(project.checkpoint_topic, kafka.broker_count())])
    sink = _open_for(project, topic, unique_name("tid"), 75)
    sink.commit(timeout=30)
    assert [m.value() for m in kafka.read_committed(topic, timeout=30)] == [b"v"]
