"""`TransactionalSink.sender`: the row loops' direct produce gives what `TransactionalSink.send` would."""

from __future__ import annotations

from airflow_provider_obkafka.engine.routing.partitioning import partition_rule
from airflow_provider_obkafka.engine.kafka.sink import DeliveryReports, TransactionalSink


class FakeProducer:
    """Records produce calls; raises BufferError (queue full) for the first `full` calls."""

    def __init__(self, full: int = 0) -> None:
        self.calls: list[tuple] = []
        self.full = full
        self.polls = 0

    def produce(self, topic, value=None, key=None, partition=-1, on_delivery=None):
        if self.full:
            self.full -= 1
            raise BufferError("queue full")
        self.calls.append((topic, value, key, partition, on_delivery))

    def poll(self, timeout):
        self.polls += 1


def test_hash_rule_lets_the_partitioner_hash_keys_and_puts_keyless_messages_on_partition_0():
    producer = FakeProducer()
    sink = TransactionalSink(producer, "checkpoints")
    send = sink.sender("t", partition_rule("Hash"))
    send(b"k", b"v1")
    send(None, b"v2")
    assert producer.calls == [("t", b"v1", b"k", -1, sink.on_delivery), ("t", b"v2", None, 0, sink.on_delivery)]


def test_one_rule_sends_everything_to_partition_0():
    producer = FakeProducer()
    sink = TransactionalSink(producer, "checkpoints")
    sink.sender("t", partition_rule("One"))(b"k", b"v")
    assert producer.calls == [("t", b"v", b"k", 0, sink.on_delivery)]


def test_a_full_queue_waits_through_the_sink():
    producer = FakeProducer(full=2)  # the direct call and the sink's first try find the queue full
    sink = TransactionalSink(producer, "checkpoints")
    sink.sender("t", partition_rule("Hash"))(b"k", b"v")
    assert producer.polls == 1
    assert [call[:3] for call in producer.calls] == [("t", b"v", b"k")]


def test_with_the_producers_own_reports_no_callback_goes_per_message():
    producer = FakeProducer(full=1)
    reports = DeliveryReports()
    sink = TransactionalSink(producer, "checkpoints", reports)
    send = sink.sender("t", partition_rule("Hash"))
    send(b"k", b"v1")  # the queue is full once: the retry goes through sink.send, with the callback
    send(None, b"v2")
    assert producer.calls == [("t", b"v1", b"k", -1, sink.on_delivery), ("t", b"v2", None, 0, None)]
    reports("failed", None)
    assert sink.failure == "failed"
    sink.on_delivery("later", None)
    assert sink.failure == "failed", "the first failure is kept"
