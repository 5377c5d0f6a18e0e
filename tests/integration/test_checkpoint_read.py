"""
The checkpoint read reaches the end of every partition, or raises a retryable error: never partial state.

The stall test pauses a PRIVATE broker (SIGSTOP) in the middle of a checkpoint read; the shared one is never
touched.
"""

from __future__ import annotations

import json
import logging
import threading

from confluent_kafka import TopicPartition

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.engine.pipeline.retry import Backoff, Retrier, retry_call
from airflow_provider_obkafka.exceptions import IncompleteReadError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.operators._project import checkpoint_state
from tests.integration.private_services import private_kafka  # noqa: F401 (fixture)

RECORDS = 20_000
PAD = "x" * 500  # about 10 MB of checkpoints: many fetches, so a pause lands in the middle of the read


def _project(name: str):
    """A project of its own name: its own checkpoint topic."""
    return parse_project({"name": name, "sync_types": ["incremental"],
                          "objects": [{"database": "d", "tables": ["t"], "topic": {"mode": "existing", "name": "d.t"}}]})


def _write_checkpoints(kafka: KafkaHook, topic: str, tid: str, count: int) -> dict[str, dict]:
    """`count` checkpoint records in transactions of 1,000, with an aborted one in between; the state they make."""
    sink = TransactionalSink(kafka.producer(transactional_id=tid), topic)
    expected = {}
    for lo in range(0, count, 1_000):
        sink.begin()
        for i in range(lo, min(lo + 1_000, count)):
            value = {"chunk": i, "pad": PAD}
            sink.checkpoint(f"chunk/s/d.t/{i}", value)
            expected[f"chunk/s/d.t/{i}"] = value
        sink.commit()
    sink.begin()
    sink.checkpoint("chunk/s/d.t/0", {"aborted": True})
    sink.producer.flush(30)
    sink.abort()
    return expected


class PausingHook(KafkaHook):
    """The real hook; it pauses the broker once, right after the first message of a read has arrived."""

    def __init__(self, broker, pause_s: float) -> None:
        super().__init__()
        self.broker, self.pause_s = broker, pause_s
        self.paused = threading.Event()
        self.seen_before_error: int | None = None

    def iter_committed(self, topic, *args, **kwargs):
        seen = 0
        try:
            for message in super().iter_committed(topic, *args, **kwargs):
                seen += 1
                if not self.paused.is_set():
                    self.paused.set()
                    self.broker.pause()
                    threading.Timer(self.pause_s, self.broker.resume).start()
                yield message
        except IncompleteReadError:
            self.seen_before_error = seen
            raise


def test_checkpoint_read_during_a_broker_stall_raises_then_a_retry_reads_everything(
    private_kafka, monkeypatch, unique_name, caplog
):
    # a small fetch queue, as a connection may set it: the read needs many fetches from the broker
    extra = {"bootstrap.servers": private_kafka.info.bootstrap, "queued.max.messages.kbytes": 512,
             "max.partition.fetch.bytes": 262144}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps({"conn_type": "kafka", "extra": extra}))
    project = _project(unique_name("ckpt"))
    kafka = KafkaHook()
    kafka.create_topics([TopicSpec(project.checkpoint_topic, 1, 1, dict(checkpoints.CHECKPOINT_TOPIC_CONFIGS))])
    expected = _write_checkpoints(kafka, project.checkpoint_topic, unique_name("tid"), RECORDS)

    watcher = kafka.read_committed_consumer()
    _, end = watcher.get_watermark_offsets(TopicPartition(project.checkpoint_topic, 0), timeout=10, cached=False)
    watcher.close()

    hook = PausingHook(private_kafka, pause_s=12)
    errors: list[BaseException] = []

    def read() -> dict:
        try:
            return checkpoint_state(project, hook, idle=4)
        except Exception as exc:
            errors.append(exc)
            raise

    retrier = Retrier(Backoff(base_s=1, cap_s=2, give_up_s=120), {"kafka": f"Kafka at {private_kafka.info.bootstrap}"})
    with caplog.at_level(logging.WARNING):
        state = retry_call(read, retrier)

    assert hook.paused.is_set()
    assert len(state) == len(expected), f"partial state returned: {len(state)} of {len(expected)} keys"
    assert isinstance(errors[0], IncompleteReadError), errors
    assert 0 < hook.seen_before_error < RECORDS, "the pause came in the middle of the read"
    message = str(errors[0])
    assert repr(project.checkpoint_topic) in message
    assert "partition 0 at offset" in message and f"of {end}" in message, message
    assert "retrying in" in caplog.text and f"Kafka at {private_kafka.info.bootstrap} unreachable" in caplog.text
    assert state == expected, "the retry read the whole state"


def test_many_records_across_partitions_are_read_completely(airflow_conn_env, unique_name):
    kafka = KafkaHook()
    topic = unique_name("many")
    kafka.create_topics([TopicSpec(topic, partitions=6)])
    producer = kafka.producer(transactional_id=unique_name("tid"))
    sent = []
    for batch in range(20):
        producer.begin_transaction()
        for i in range(batch * 5_000, (batch + 1) * 5_000):
            producer.produce(topic, key=str(i).encode(), value=str(i).encode(), partition=i % 5)  # 5 is empty
        if batch % 4 == 3:
            producer.flush(30)
            producer.abort_transaction(30)
        else:
            producer.commit_transaction(60)
            sent += range(batch * 5_000, (batch + 1) * 5_000)
    got = [int(m.value()) for m in kafka.iter_committed(topic)]
    assert len(got) == len(sent) == 75_000
    assert sorted(got) == sent, "every committed record once, no aborted one"
