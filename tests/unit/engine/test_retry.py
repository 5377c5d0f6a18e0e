"""Which errors are waited out, the backoff schedule, and the log line saying what is waited for."""

from __future__ import annotations

import logging

import pymysql
import pytest
from confluent_kafka import KafkaError, KafkaException

from airflow_provider_obkafka.engine.pipeline.retry import (
    Backoff,
    NoRetry,
    Retrier,
    binlog_gone,
    retry_call,
    transient,
)
from airflow_provider_obkafka.exceptions import CheckpointError, DeliveryError, IncompleteReadError, SchemaError
from airflow_provider_obkafka.models.position import BinlogPosition


def _delivery(code: int) -> DeliveryError:
    try:
        raise KafkaException(KafkaError(code))
    except KafkaException as exc:
        try:
            raise DeliveryError("Kafka transaction not committed") from exc
        except DeliveryError as delivery:
            return delivery


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        pytest.param(pymysql.err.OperationalError(2003, "Can't connect"), "source", id="refused"),
        pytest.param(pymysql.err.OperationalError(2013, "Lost connection"), "source", id="lost"),
        pytest.param(
            pymysql.err.OperationalError(1053, "Server shutdown in progress"), "source", id="shutdown"
        ),
        pytest.param(pymysql.err.InterfaceError(0, ""), "source", id="closed-connection"),
        pytest.param(ConnectionResetError("reset"), "source", id="socket-reset"),
        pytest.param(pymysql.err.OperationalError(1236, "Could not find first log file"), None, id="purged"),
        pytest.param(pymysql.err.ProgrammingError(1064, "syntax"), None, id="syntax"),
        pytest.param(KafkaException(KafkaError(KafkaError._TRANSPORT)), "kafka", id="broker-down"),
        pytest.param(KafkaException(KafkaError(KafkaError._TIMED_OUT)), "kafka", id="timed-out"),
        pytest.param(_delivery(KafkaError._MSG_TIMED_OUT), "kafka", id="delivery-timed-out"),
        pytest.param(_delivery(KafkaError.TOPIC_AUTHORIZATION_FAILED), None, id="not-authorized"),
        pytest.param(KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)), None, id="unknown-topic"),
        pytest.param(IncompleteReadError("read of topic 'c' stopped short"), "kafka", id="stalled-read"),
        pytest.param(SchemaError("table gone"), None, id="ours"),
        pytest.param(ValueError("bug"), None, id="bug"),
    ],
)
def test_transient(exc, kind):
    assert transient(exc) == kind


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter():
    backoff = Backoff(base_s=1, cap_s=30, jitter=0.2)
    assert [backoff.delay(n, 0.5) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(3, 0.0) == pytest.approx(3.2)
    assert backoff.delay(3, 0.999999) == pytest.approx(4.8)
    assert backoff.delay(10_000, 0.5) == 30


def test_retrier_says_what_is_waited_for_and_gives_up_after_the_window():
    now = [0.0]
    retrier = Retrier(Backoff(give_up_s=60), {"source": "change log at db:3306"}, clock=lambda: now[0],
                      rand=lambda: 0.5)  # fmt: skip
    error = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'db'")
    lines = []
    for _ in range(3):
        delay, line = retrier.wait_for(error)
        lines.append(line)
        now[0] += delay
    assert lines[2] == (
        "change log at db:3306 unreachable "
        "(OperationalError: (2003, \"Can't connect to MySQL server on 'db'\")); "
        "retrying in 4 s (attempt 3)"
    )
    now[0] = 61.0
    with pytest.raises(pymysql.err.OperationalError):
        retrier.wait_for(error)
    retrier.reset()
    assert retrier.wait_for(error)[0] == 1.0, "a success starts a new outage"


def test_purged_position_becomes_a_clear_checkpoint_error():
    error = pymysql.err.OperationalError(1236, "Could not find first log file name in binary log index file")
    position = BinlogPosition(file="binlog.000001", position=328)
    gone = binlog_gone(error, position)
    assert isinstance(gone, CheckpointError)
    assert "no longer holds binlog.000001:328" in str(gone)
    assert "index file" in str(gone)
    retrier = Retrier(Backoff(), {})
    with pytest.raises(CheckpointError, match="purged"):
        retrier.wait_for(error, position)


def test_retry_call_repeats_transient_failures_and_returns():
    outcomes = [
        pymysql.err.OperationalError(2013, "Lost connection"),
        KafkaException(KafkaError(KafkaError._TRANSPORT)),
        42,
    ]
    slept: list[float] = []

    def attempt():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    retrier = Retrier(Backoff(base_s=1), {"source": "s", "kafka": "k"}, rand=lambda: 0.5)
    assert retry_call(attempt, retrier, sleep=slept.append) == 42
    assert slept == [1.0, 2.0]


def test_retry_call_does_not_repeat_other_errors():
    calls = []

    def attempt():
        calls.append(1)
        raise SchemaError("no such table")

    with pytest.raises(SchemaError):
        retry_call(attempt, Retrier(Backoff(), {}), sleep=lambda _s: None)
    assert len(calls) == 1


def test_no_retry_raises_at_once_without_an_error_line(caplog):
    """A streaming worker's open range: an outage ends it (the trigger waits it out), with no 'giving up' line."""
    lost = pymysql.err.OperationalError(2013, "Lost connection")
    with caplog.at_level(logging.DEBUG), pytest.raises(pymysql.err.OperationalError):
        retry_call(lambda: (_ for _ in ()).throw(lost), NoRetry(), sleep=lambda _s: None)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
    gone = pymysql.err.OperationalError(1236, "Could not find first log file name in binary log index file")
    with pytest.raises(CheckpointError, match="no longer holds"):
        retry_call(lambda: (_ for _ in ()).throw(gone), NoRetry(), sleep=lambda _s: None)
