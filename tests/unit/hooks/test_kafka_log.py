"""ClientLog: which librdkafka line a finding names, whatever order librdkafka writes them in."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_obkafka.hooks.kafka_log import ClientLog

THREAD = "[thrd:ssl://127.0.0.1:9092/bootstrap]: ssl://127.0.0.1:9092/bootstrap: "
SHORT = "Disconnected: SSL connection closed by peer (after 1ms in state SSL_HANDSHAKE)"
DETAILED = ("SSL handshake failed: Disconnected: SSL connection closed by peer: connecting to a PLAINTEXT broker "
            "listener? (after 0ms in state SSL_HANDSHAKE)")  # fmt: skip


@pytest.mark.parametrize("order", [(SHORT, DETAILED), (DETAILED, SHORT)], ids=["short first", "detailed first"])
def test_the_failure_named_is_the_most_detailed_form_of_the_first_error(order):
    """Under load librdkafka writes the short and the detailed line of one TLS failure in either order."""
    log = ClientLog()
    for text in order:
        log.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", THREAD + text)
    assert log.failure == "SSL handshake failed: Disconnected: SSL connection closed by peer: connecting to a " \
                          "PLAINTEXT broker listener?"


def test_a_later_different_error_does_not_replace_the_cause():
    log = ClientLog()
    log.log(logging.ERROR, "%s [%s] %s", "FAIL", "c", THREAD + "SSL handshake failed: certificate verify failed")
    log.log(logging.ERROR, "%s [%s] %s", "ERROR", "c", THREAD + "1/1 brokers are down")
    assert log.failure == "SSL handshake failed: certificate verify failed"
