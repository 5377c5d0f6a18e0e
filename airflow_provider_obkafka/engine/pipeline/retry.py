"""
Waiting out an outage of the source or the broker: which errors are transient, the backoff, the log line.

Incremental synchronization reads the change log and writes Kafka transactions for hours or days; either end
restarting now and then is normal. A unit of work (one scan of the log in the trigger, one change-log range
produced in one Kafka transaction per batch on the worker) is therefore repeated from its last committed
point after a transient error, with exponential backoff (capped, with jitter), until the outage has lasted
`Backoff.give_up_s`. Repeating is safe: the trigger carries positions only, and an aborted Kafka transaction
leaves nothing visible to a `read_committed` consumer.

A topic read that stopped short of its end offsets (`IncompleteReadError`, e.g. the checkpoint read during a
broker stall) is transient too: the read starts again, and nothing of the short read was used.

Not transient: a position the server no longer has (MySQL error 1236, the binlog file was purged), which
`binlog_gone` turns into a `CheckpointError` that says what to do; and every other error.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pymysql
from confluent_kafka import KafkaError, KafkaException

from airflow_provider_obkafka.exceptions import CheckpointError, DeliveryError, IncompleteReadError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = ["Backoff", "NoRetry", "Retrier", "binlog_gone", "mysql_code", "retry_call", "transient"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: MySQL server and client error codes of a server that is restarting, gone or overloaded.
TRANSIENT_MYSQL = frozenset({
    1040,  # too many connections
    1053,  # server shutdown in progress
    1152, 1158, 1159, 1160, 1161,  # aborted connection, network read/write errors and timeouts
    1205,  # lock wait timeout
    1927,  # connection killed (MariaDB, at shutdown)
    2001, 2002, 2003, 2004, 2005, 2006, 2011, 2012, 2013, 2026, 2055,  # client: cannot connect, gone, lost
})  # fmt: skip
#: ER_MASTER_FATAL_ERROR_READING_BINLOG: the file or position asked for is not in the log (purged).
BINLOG_GONE = 1236
_KAFKA_PERMANENT = frozenset(
    getattr(KafkaError, name)
    for name in (
        "TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED", "SASL_AUTHENTICATION_FAILED", "UNKNOWN_TOPIC_OR_PART",
        "TOPIC_EXCEPTION",
        "MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_CONFIG", "UNSUPPORTED_VERSION",
        "_MSG_SIZE_TOO_LARGE", "_INVALID_ARG", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION", "_AUTHENTICATION",
        "_SSL", "_NOT_IMPLEMENTED", "_UNSUPPORTED_FEATURE", "_NOENT",
    )
    if hasattr(KafkaError, name)
)  # fmt: skip


def mysql_code(exc: BaseException) -> int | None:
    """The MySQL error code of a pymysql error, else None."""
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__
    return seen


def transient(exc: BaseException) -> str | None:
    """
    `"source"` or `"kafka"` when `exc` (or what caused it) is an outage worth waiting out, else None.
    A purged binlog position (1236) is never transient.
    """
    for err in _chain(exc):
        code = mysql_code(err)
        if code == BINLOG_GONE:
            return None
        if code in TRANSIENT_MYSQL or isinstance(err, pymysql.err.InterfaceError):
            return "source"
        if isinstance(err, KafkaException):
            kafka_error = err.args[0] if err.args else None
            if isinstance(kafka_error, KafkaError):
                return None if kafka_error.code() in _KAFKA_PERMANENT else "kafka"
            return "kafka"
        if isinstance(err, IncompleteReadError):
            return "kafka"  # a stalled read of a topic: read it again
        if isinstance(err, DeliveryError):
            continue  # decided by its cause, else below
        if isinstance(err, ConnectionError | TimeoutError):
            return "source"
    return "kafka" if isinstance(exc, DeliveryError) and exc.__cause__ is None else None


def binlog_gone(exc: BaseException, position: BinlogPosition | None) -> CheckpointError | None:
    """A clear, non-retried error when the server no longer has the position asked for (MySQL error 1236)."""
    for err in _chain(exc):
        if mysql_code(err) == BINLOG_GONE:
            where = f"{position.file}:{position.position}" if position else "the position asked for"
            return CheckpointError(
                f"the change log no longer holds {where} (the server says: {err.args[1]}): its binlog "
                "file was purged before it was synchronized; changes after it cannot be read any more. "
                "Run a full synchronization, or start the incremental synchronization again from a later "
                "start timestamp"
            )
    return None


@dataclass(frozen=True, slots=True)
class Backoff:
    """
    Exponential backoff: `base_s`, doubling per attempt up to `cap_s`, each delay times a random factor in
    [1 - jitter, 1 + jitter]; give up once failures have lasted `give_up_s`.
    """

    base_s: float = 1.0
    cap_s: float = 30.0
    give_up_s: float = 600.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: float) -> float:
        """The delay before attempt `attempt + 1` (attempt counts from 1), `rand` in [0, 1)."""
        raw: float = min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 32))
        return raw * (1 - self.jitter + 2 * self.jitter * rand)


class Retrier:
    """
    The state of one retried unit: attempts, when failures began; says how long to wait, or re-raises.

    :param backoff: the schedule
    :param endpoints: what is waited for, per kind (`"source"`, `"kafka"`), e.g. "change log at host:port"
    :param clock: monotonic seconds (injected in tests)
    :param rand: random numbers in [0, 1) for the jitter (injected in tests)
    """

    def __init__(
        self,
        backoff: Backoff,
        endpoints: dict[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.backoff, self.endpoints, self.clock, self.rand = backoff, endpoints, clock, rand
        self.attempt = 0
        self.failing_since: float | None = None

    def reset(self) -> None:
        """A success: the next failure starts a new outage."""
        self.attempt, self.failing_since = 0, None

    def wait_for(self, exc: BaseException, position: BinlogPosition | None = None) -> tuple[float, str]:
        """
        The delay before the next attempt and the log line saying what is waited for; raises the
        `binlog_gone` error, or `exc` itself when it is not transient or the outage lasted too long.
        """
        gone = binlog_gone(exc, position)
        if gone is not None:
            raise gone from exc
        kind = transient(exc)
        if kind is None:
            raise exc
        now = self.clock()
        self.failing_since = now if self.failing_since is None else self.failing_since
        self.attempt += 1
        what = self.endpoints.get(kind, kind)
        if now - self.failing_since >= self.backoff.give_up_s:
            log.error("%s still unreachable after %.0f s (%d attempts): giving up", what,
                      now - self.failing_since, self.attempt)  # fmt: skip
            raise exc
        delay = self.backoff.delay(self.attempt, self.rand())
        shown = f"{delay:.0f}" if delay >= 1 else f"{delay:.2g}"
        cause = f"{type(exc).__name__}: {exc}"
        return delay, f"{what} unreachable ({cause}); retrying in {shown} s (attempt {self.attempt})"


class NoRetry(Retrier):
    """A unit tried once: every error is raised as it is (a purged position as `binlog_gone`'s), unlogged."""

    def __init__(self) -> None:
        super().__init__(Backoff(give_up_s=0), {})

    def wait_for(self, exc: BaseException, position: BinlogPosition | None = None) -> tuple[float, str]:
        """Raise `exc` (see the class docstring)."""
        gone = binlog_gone(exc, position)
        if gone is not None:
            raise gone from exc
        raise exc


def retry_call(
    fn: Callable[[], T],
    retrier: Retrier,
    *,
    position: Callable[[], BinlogPosition | None] = lambda: None,
    logger: Any = None,  # a logging.Logger, or an Airflow task's `self.log`
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`fn()` until it succeeds, waiting out transient errors as `retrier` says (blocking: no triggers)."""
    while True:
        try:
            result = fn()
        except Exception as exc:
            delay, message = retrier.wait_for(exc, position())
            (logger or log).warning("%s", message)
            sleep(delay)
            continue
        retrier.reset()
        return result
