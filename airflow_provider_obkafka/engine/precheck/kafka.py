"""
Precheck rules for the destination node, on facts already fetched: the transactions check, the broker's
version and the transaction timeout. The topics' rules are in `engine/precheck/topics.py`.

Transactions rule: this provider writes exactly once with a transactional producer, so the precheck proves it
can: a producer with a throwaway transactional id of the project's prefix initializes (InitProducerId), begins
and aborts a transaction, over the connection's full configuration (TLS, client certificates, SASL), as the
sync connects. A refusal names the ACL or the broker version it lacks.

Kafka version rule, on the broker's `inter.broker.protocol.version` (DescribeConfigs; Kafka 4.0 removed the
setting, so a configuration without it is 4.0 or later): older than 0.11 has no transactions (KIP-98) and is
refused; before 2.5 (KIP-360) the producer cannot bump its epoch after an idempotence error, so such an error
stops the task until a retry: a warning. OMS lists Kafka 0.9, 1.0 and 2.x.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_provider_obkafka.engine.precheck.report import Check, Finding, fail, ok, warn

if TYPE_CHECKING:
    from collections.abc import Mapping

TRANSACTIONS_SINCE = (0, 11)  # KIP-98
EPOCH_BUMP_SINCE = (2, 5)  # InitProducerId v3, KIP-360
_NO_TRANSACTIONS = {"_UNSUPPORTED_FEATURE", "UNSUPPORTED_VERSION", "UNSUPPORTED_FOR_MESSAGE_FORMAT"}
_UPGRADE = (
    "upgrade Kafka to 0.11 or later (2.5 or later recommended): exactly-once delivery needs transactions"
)


def version_findings(
    protocol_version: str | None, bootstrap: str, unread: str | None = None
) -> list[Finding]:
    """The Kafka version rule (module docstring) on `inter.broker.protocol.version`; `unread`: why unread."""
    if unread is not None:
        return [
            warn(
                Check.KAFKA_VERSION,
                f"the broker version of {bootstrap} could not be read: {unread}",
                "allow DescribeConfigs on the cluster to the connection's user (docs/security.md), or make "
                "sure every broker runs Kafka 2.5 or later",
            )
        ]
    if protocol_version is None:
        found = f"{bootstrap}: Kafka 4.0 or later (no inter.broker.protocol.version)"
        return [ok(Check.KAFKA_VERSION, found)]
    match = re.match(r"(\d+)\.(\d+)", protocol_version)
    release = (int(match[1]), int(match[2])) if match else (0, 0)
    said = f"{bootstrap}: inter.broker.protocol.version {protocol_version}"
    if release < TRANSACTIONS_SINCE:
        return [fail(Check.KAFKA_VERSION, f"{said}: Kafka older than 0.11 has no transactions", _UPGRADE)]
    if release < EPOCH_BUMP_SINCE:
        return [
            warn(
                Check.KAFKA_VERSION,
                f"{said}: Kafka 0.11 to 2.4, transactions work but the producer cannot bump its epoch "
                "(KIP-360)",
                "upgrade Kafka to 2.5 or later; until then an idempotence error stops the task until a retry",
            )
        ]
    return [ok(Check.KAFKA_VERSION, f"{said}: Kafka 2.5 or later, transactions supported")]


def transaction_findings(
    transactional_id: str, prefix: str, error_code: str | None = None, error: str = ""
) -> list[Finding]:
    """
    The transactions rule (module docstring): the throwaway producer's outcome, `error_code` being the
    librdkafka error name of a refusal (None: it worked).
    """
    tried = f"a transactional producer with the throwaway id {transactional_id!r}"
    if error_code is None:
        return [ok(Check.TRANSACTIONS, f"{tried} initialized, began and aborted a transaction")]
    if error_code == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED":
        fix = (f"allow WRITE and DESCRIBE on TRANSACTIONAL_ID with the PREFIXED pattern {prefix!r} to the "
               "connection's user (docs/security.md)")  # fmt: skip
        return [fail(Check.TRANSACTIONS, f"{tried} was refused: {error}", fix)]
    if error_code == "CLUSTER_AUTHORIZATION_FAILED":
        fix = "allow IDEMPOTENT_WRITE on the CLUSTER to the connection's user (brokers before 2.8 need it)"
        return [fail(Check.TRANSACTIONS, f"{tried} was refused: {error}", fix)]
    if error_code in _NO_TRANSACTIONS:
        return [fail(Check.TRANSACTIONS, f"{tried} failed: {error}: Kafka older than 0.11", _UPGRADE)]
    return [
        fail(
            Check.TRANSACTIONS,
            f"{tried} failed: {error}",
            "check the connection's security settings (security.protocol, ssl.*, sasl.*) and the "
            "broker's transaction settings (transaction.state.log.*)",
        )
    ]


def transaction_timeout_findings(timeout_ms: int, broker_max_ms: Mapping[int, int]) -> list[Finding]:
    """
    The producers' `transaction.timeout.ms` (the project's `options.transaction_timeout_ms`) against each
    broker's `transaction.max.timeout.ms` (by broker id; empty when it could not be read): a larger timeout
    makes every transactional producer fail at `init_transactions()`.
    """
    ours = f"transaction.timeout.ms {timeout_ms} (options.transaction_timeout_ms)"
    if not broker_max_ms:
        return [
            warn(
                Check.TRANSACTION_TIMEOUT,
                f"{ours}: the brokers' transaction.max.timeout.ms could not be read (DescribeConfigs "
                "refused or failed)",
                f"make sure transaction.max.timeout.ms is at least {timeout_ms} on every broker",
            )
        ]
    broker, limit = min(broker_max_ms.items(), key=lambda item: (item[1], item[0]))
    theirs = f"broker {broker}'s transaction.max.timeout.ms {limit}"
    if timeout_ms > limit:
        return [
            fail(
                Check.TRANSACTION_TIMEOUT,
                f"{ours} is above {theirs}: the broker refuses every transactional producer",
                f"set options.transaction_timeout_ms to {limit} or less, or raise transaction.max.timeout.ms on "
                "the brokers to at least the project's value",
            )
        ]
    return [ok(Check.TRANSACTION_TIMEOUT, f"{ours} is within {theirs}")]
