"""Reading a topic to its end offsets as a `read_committed` consumer sees it: all of it, or an error."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from airflow_provider_obkafka.exceptions import IncompleteReadError, TopicError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from confluent_kafka import Consumer, Message

_LEADER_MOVING = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
# ... and, for the offsets of a partition the topic's metadata listed, librdkafka's local "unknown partition":
# a new consumer's metadata cache not filled yet (seen right after a broker stall)
_NOT_YET_KNOWN = (*_LEADER_MOVING, KafkaError._UNKNOWN_PARTITION)


def partitions_of(consumer: Consumer, topic: str, attempts: int = 50) -> list[int]:
    """
    The partitions of `topic`; waits while a just-created topic has no leader yet.

    :raises TopicError: the topic does not exist
    """
    for attempt in range(attempts):
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        error = None if metadata is None else metadata.error
        if metadata is not None and error is None:
            return sorted(metadata.partitions)
        if error is None or error.code() not in _LEADER_MOVING or attempt == attempts - 1:
            break
        time.sleep(0.1)
    raise TopicError(f"topic {topic!r} does not exist")


def watermarks(consumer: Consumer, partition: TopicPartition, attempts: int = 50) -> tuple[int, int]:
    """
    A partition's (low, high) offsets as the broker reports them now, under the consumer's isolation level:
    for a `read_committed` consumer the high one is the last stable offset (before the first record of a
    transaction still open). Waits while a just-created topic's leader is being elected, or while the client
    does not know the partition yet.
    """
    for attempt in range(attempts):
        try:
            return consumer.get_watermark_offsets(partition, timeout=10, cached=False)
        except KafkaException as exc:
            if exc.args[0].code() not in _NOT_YET_KNOWN or attempt == attempts - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def drain_to_ends(
    consumer: Consumer, topic: str, marks: dict[int, tuple[int, int]], timeout: float, idle: float
) -> Iterator[Message]:
    """
    Every message of the assigned partitions of `topic` until each one's position reaches its end offset
    (`marks`: partition → (low, high) taken before the read). The position moves past records of aborted
    transactions and transaction markers too, so "reached" is exact.

    :param timeout: seconds the whole read may take
    :param idle: seconds without progress (no message, no position moved) that make it a stall
    :raises IncompleteReadError: on a stall or at the timeout, naming the offsets reached; nothing is lost
        by reading again from the start
    """
    ends = {partition: high for partition, (low, high) in marks.items() if high > low}  # empty: read already
    if not ends:
        return
    asked = [TopicPartition(topic, partition) for partition in sorted(ends)]
    began = moved = time.monotonic()
    reached: dict[int, int] = {}
    while True:
        # consume() waits its whole timeout unless 10,000 messages come: keep it short (0.5 s cost every chunk)
        batch = consumer.consume(num_messages=10000, timeout=0.05)
        for msg in batch:
            error = msg.error()
            if error is None:
                yield msg
            elif error.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(error)
        now_at = {tp.partition: tp.offset for tp in consumer.position(asked)}
        if all(now_at[partition] >= end for partition, end in ends.items()):
            return
        now = time.monotonic()
        if batch or now_at != reached:
            moved, reached = now, now_at
        if now - moved > idle or now - began > timeout:
            why = f"no progress for {now - moved:.0f} s" if now - moved > idle else f"not done after {timeout:.0f} s"
            raise IncompleteReadError(_stopped_short(topic, marks, reached, why))


def _stopped_short(topic: str, marks: dict[int, tuple[int, int]], reached: dict[int, int], why: str) -> str:
    """The error text: which partitions were read how far, of which end offsets."""
    where = ", ".join(
        f"partition {partition} at offset {max(reached.get(partition, low), low)} of {high}"
        for partition, (low, high) in sorted(marks.items())
        if high > low and reached.get(partition, low) < high
    )
    return (
        f"read of topic {topic!r} stopped short of its end offsets ({why}): {where}; the broker stalled or "
        "is unreachable. Nothing of this read was used: it is read again from the start"
    )
