"""
Messages too large for Kafka, caught before they are produced: the limit a message must fit (the smallest of
the producer's `message.max.bytes` and the topic's `max.message.bytes`), and per table what to do with one
over it (`oversize_rows`): fail naming the row and the fix, skip it with a warning, or send a small record
naming it to the project's dead-letter topic in the same Kafka transaction (`OversizeGuard`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_obkafka.engine.precheck.row_size import PRODUCER_DEFAULT_MAX
from airflow_provider_obkafka.exceptions import MessageTooLargeError
from airflow_provider_obkafka.models.oversize import OversizeRows

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MESSAGE_OVERHEAD", "MessageLimit", "OversizeCounts", "OversizeGuard", "message_limit", "message_size"]

log = logging.getLogger(__name__)

#: Bytes a message takes beyond its key and value: librdkafka's largest v2 record overhead (36, which its
#: `message.max.bytes` check adds), a record batch header (61, which the broker's `max.message.bytes` counts,
#: as a message larger than `batch.size` goes alone in its batch), and a margin.
MESSAGE_OVERHEAD = 36 + 61 + 31
_KEY_SHOWN = 200  # characters of a key in errors, warnings and dead-letter records


class MessageLimit(NamedTuple):
    """The size a message of one topic must fit, and the setting that sets it (for the error's fix)."""

    bytes: int
    setting: str


def message_size(key: bytes | None, value: bytes | None) -> int:
    """The bytes a message counts against the limits (`MESSAGE_OVERHEAD` included); no headers are sent."""
    return (len(key) if key else 0) + (len(value) if value else 0) + MESSAGE_OVERHEAD


def message_limit(producer_max: int | str | None, topic: str, topic_max: int | str | None) -> MessageLimit:
    """
    The smaller of the producer's `message.max.bytes` (None: librdkafka's default) and the topic's
    `max.message.bytes` (None: unknown; the brokers' `message.max.bytes` is its default).
    """
    if producer_max is None:
        producer = MessageLimit(PRODUCER_DEFAULT_MAX, "the producer's message.max.bytes (librdkafka's default; "
                                "set it in the Kafka connection's extras)")  # fmt: skip
    else:
        producer = MessageLimit(int(producer_max), "the producer's message.max.bytes (the Kafka connection's extras)")
    if topic_max is not None and int(topic_max) < producer.bytes:
        return MessageLimit(int(topic_max), f"topic {topic}'s max.message.bytes")
    return producer


@dataclass
class OversizeCounts:
    """Rows diverted (skipped or dead-lettered) by table: in the open Kafka transaction, and committed."""

    pending: Counter[str] = field(default_factory=Counter)
    committed: Counter[str] = field(default_factory=Counter)

    def settle(self) -> None:
        """The open transaction is committed: its diverted rows count."""
        self.committed.update(self.pending)
        self.pending.clear()

    def drop(self) -> None:
        """The open transaction is aborted: its diverted rows will be read again."""
        self.pending.clear()

    def summary(self) -> str:
        """`db.t: n, ...` of the committed counts."""
        return ", ".join(f"{table}: {count}" for table, count in sorted(self.committed.items()))


def _shown(key: bytes | None) -> str:
    text = "(none)" if key is None else key.decode("utf-8", "replace")
    return text if len(text) <= _KEY_SHOWN else text[:_KEY_SHOWN] + "..."


@dataclass
class OversizeGuard:
    """
    One table's policy for a message over its topic's limit; `TransactionalSink.sender` calls `divert` for
    such a message instead of producing it.

    :param policy: the table's `oversize_rows`
    :param limit: its topic's limit
    :param table: `database.table`, for the messages
    :param where: where the row is read (the chunk, or the change-log position)
    :param counts: the task's counts of diverted rows
    :param dead_letter: the dead-letter topic and the project's name, for `dead_letter`
    """

    policy: OversizeRows
    limit: MessageLimit
    table: str
    where: Callable[[], str]
    counts: OversizeCounts
    dead_letter: tuple[str, str] | None = None

    @property
    def most(self) -> int:
        """The largest key plus value that fits."""
        return self.limit.bytes - MESSAGE_OVERHEAD

    def divert(self, send: Callable[[str, bytes, bytes | None], Any], key: bytes | None, value: bytes | None) -> None:
        """
        Fail, skip or dead-letter one message over the limit; `send(topic, value, key)` queues the dead-letter
        record in the open transaction (`TransactionalSink.send`).
        """
        size, where = message_size(key, value), self.where()
        if self.policy is OversizeRows.FAIL:
            raise MessageTooLargeError(
                f"a row of {self.table} (key {_shown(key)}, at {where}) makes a Kafka message of {size} bytes, over "
                f"the limit of {self.limit.bytes} bytes set by {self.limit.setting}; nothing of this unit was "
                f"committed. Fix: raise the topic's max.message.bytes and the producer's message.max.bytes (the "
                f"Kafka connection's extras) above {size}, or set oversize_rows: skip or dead_letter for "
                f"{self.table} (objects[].table_settings or options)"
            )
        self.counts.pending[self.table] += 1
        if self.policy is OversizeRows.DEAD_LETTER and self.dead_letter is not None:
            topic, project = self.dead_letter
            record = {"project": project, "table": self.table, "key": _shown(key), "position": where,
                      "size": size, "limit": self.limit.bytes, "limit_setting": self.limit.setting,
                      "reason": "message too large for Kafka"}  # fmt: skip
            send(topic, json.dumps(record, ensure_ascii=False).encode("utf-8"), key)
            log.warning("%s: row (key %s, at %s) of %d bytes over the limit of %d (%s): sent to %s instead",
                        self.table, _shown(key), where, size, self.limit.bytes, self.limit.setting, topic)  # fmt: skip
            return
        log.warning("%s: row (key %s, at %s) of %d bytes over the limit of %d (%s): skipped (oversize_rows: skip)",
                    self.table, _shown(key), where, size, self.limit.bytes, self.limit.setting)  # fmt: skip
