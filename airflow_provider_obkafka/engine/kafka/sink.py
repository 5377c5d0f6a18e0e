"""A transactional Kafka sink: data and the checkpoint that covers it commit together, or not at all."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.exceptions import DeliveryError

if TYPE_CHECKING:
    from confluent_kafka import Message, Producer

    from airflow_provider_obkafka.engine.kafka.oversize import OversizeGuard
    from airflow_provider_obkafka.engine.routing.partitioning import PartitionRule

log = logging.getLogger(__name__)
# (key, value) into one topic; a None value: a tombstone. False: not produced (too large, `OversizeGuard`)
Send = Callable[[bytes | None, bytes | None], bool]

# Producer settings the sink relies on: only failed deliveries call back (cheap), and keys are hashed
# with murmur2 as the Java client does, so a key lands on the same partition from any producer.
SINK_PRODUCER_CONFIG = {
    "delivery.report.only.error": True,
    "partitioner": "murmur2_random",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
}


class DeliveryReports:
    """
    A producer's delivery callback (its `on_delivery` setting), kept for the sink that uses the producer:
    the first failure since the sink's transaction began. Set on the producer, it spares the row loops one
    callback argument, and the client one Python object, per message (`TransactionalSink.sender`).
    """

    def __init__(self) -> None:
        self.failure: KafkaError | None = None

    def __call__(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None and self.failure is None:
            self.failure = err


def sink_producer_config(transaction_timeout_ms: int) -> tuple[dict[str, Any], DeliveryReports]:
    """
    `SINK_PRODUCER_CONFIG` with a fresh `DeliveryReports` as the producer's delivery callback; give the same
    reports to the `TransactionalSink` of the producer built with it.

    :param transaction_timeout_ms: `transaction.timeout.ms`, the project's `options.transaction_timeout_ms`:
        set explicitly, as librdkafka's own default (60 s) would abort any unit of work that takes longer
    """
    reports = DeliveryReports()
    config = {**SINK_PRODUCER_CONFIG, "transaction.timeout.ms": transaction_timeout_ms, "on_delivery": reports}
    return config, reports


class TransactionalSink:
    """
    Produces messages inside one Kafka transaction at a time, with bounded memory: when librdkafka's
    queue is full, `send` serves delivery reports until there is room instead of buffering more.

    :param producer: a transactional producer (`init_transactions()` already done)
    :param checkpoint_topic: the project's compacted checkpoint topic
    :param reports: the producer's own delivery callback (`sink_producer_config`), when it has one: the
        sink's direct sends then pass none per message
    """

    def __init__(self, producer: Producer, checkpoint_topic: str, reports: DeliveryReports | None = None) -> None:
        self.producer = producer
        self.checkpoint_topic = checkpoint_topic
        self.reports = reports or DeliveryReports()
        self._producer_reports = reports is not None
        self.sent = 0

    @property
    def failure(self) -> KafkaError | None:
        """The first failed delivery of the open transaction, if any."""
        return self.reports.failure

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        """Delivery callback: remember the first failure; commit then reports it."""
        self.reports(err, msg)

    def begin(self) -> None:
        """Start a transaction."""
        self.reports.failure = None
        self.producer.begin_transaction()

    def send(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None
    ) -> None:
        """Queue one message of the open transaction; waits for room when the local queue is full."""
        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": self.on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self.producer.produce(topic, **kwargs)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.sent += 1
        if self.sent % 10_000 == 0:
            self.producer.poll(0)

    def sender(self, topic: str, rule: PartitionRule, guard: OversizeGuard | None = None) -> Send:
        """
        `send(topic, value, key, rule.partition_for(key))` for one topic with a third of its per-message
        cost, for the loops that produce row after row: one direct `produce` with this sink's delivery
        callback (or none, when the producer's own callback is the sink's `reports`), so a failed delivery
        still fails the commit. A full local queue goes through `send`, which waits for room. The caller
        polls the producer now and then (`send` polls every 10,000 messages). A None value is sent as a null
        value: a tombstone of its key (`tombstones_on_delete`). With a `guard`, a message over its limit is
        not produced but diverted (`OversizeGuard.divert`: fail, skip or dead-letter), and `send` says False.

        :param topic: the topic of every message
        :param rule: the project's partitioning rule
        :param guard: the table's `oversize_rows` policy and its topic's message size limit
        """
        produce = self.producer.produce
        if not self._producer_reports:  # no callback on the producer: pass this sink's with each message
            produce = functools.partial(produce, on_delivery=self.on_delivery)
        fixed, null_key = rule.fixed_partition, rule.null_key_partition
        most = guard.most if guard is not None else None

        def send(key: bytes | None, value: bytes | None) -> bool:
            if most is not None and (len(value) if value else 0) + (len(key) if key else 0) > most:
                guard.divert(self.send, key, value)  # type: ignore[union-attr]  # most is set with the guard
                return False
            partition = fixed if fixed is not None else null_key if key is None else None
            try:
                if partition is None:
                    produce(topic, value, key)
                else:
                    produce(topic, value, key, partition)
            except BufferError:
                self.send(topic, value, key, partition)
            return True

        return send

    def checkpoint(self, key: str, value: Mapping[str, Any]) -> None:
        """Queue a checkpoint record in the open transaction."""
        self.send(self.checkpoint_topic, checkpoints.encode(value), key.encode("utf-8"))

    def tombstone(self, key: str) -> None:
        """Queue a null value for a checkpoint key in the open transaction: compaction then drops the key."""
        kwargs: dict[str, Any] = {"key": key.encode("utf-8"), "value": None, "on_delivery": self.on_delivery}
        self.producer.produce(self.checkpoint_topic, **kwargs)
        self.sent += 1

    def commit(self, timeout: float = 120.0) -> None:
        """Flush and commit the open transaction; on any failure abort it and raise DeliveryError."""
        try:
            self.producer.commit_transaction(timeout)
        except KafkaException as exc:
            self.abort()
            cause = self.failure.str() if self.failure else exc.args[0].str()
            raise DeliveryError(f"Kafka transaction not committed (nothing of it is visible): {cause}") from exc
        if self.failure is not None:  # cannot happen after a successful commit; kept as a guard
            raise DeliveryError(f"a message was not delivered: {self.failure.str()}")

    def abort(self) -> None:
        """Abort the open transaction; its messages stay invisible to read_committed consumers."""
        try:
            self.producer.abort_transaction(60)
        except KafkaException as exc:
            log.warning("abort of the Kafka transaction failed: %s", exc)
