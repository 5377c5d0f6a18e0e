"""The Kafka ACL rules of the precheck: each missing operation is named with the ACL that grants it."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.precheck.kafka_acls import TopicAccess, acl_findings
from airflow_provider_obkafka.engine.precheck.report import Status

CHECKPOINT = "__obkafka_checkpoints.shop"
ALL = frozenset({"READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS", "CREATE"})


@pytest.mark.parametrize(
    ("topic", "access", "status", "words"),
    [
        ("shop.orders", TopicAccess(operations=ALL), Status.OK, ["every operation the sync needs"]),
        ("shop.orders", TopicAccess(operations=None), Status.OK, ["no authorizer limits it"]),
        ("shop.orders", TopicAccess(operations=ALL - {"WRITE"}), Status.FAIL, ["may not WRITE topic"]),
        (CHECKPOINT, TopicAccess(operations=ALL - {"READ", "DESCRIBE_CONFIGS"}), Status.FAIL,
         [f"may not READ and DESCRIBE_CONFIGS checkpoint topic '{CHECKPOINT}'"]),
        ("shop.orders", TopicAccess(operations=ALL - {"READ"}), Status.OK, ["every operation"]),
        ("shop.orders", TopicAccess(create="ok"), Status.OK, ["may CREATE topic"]),
        ("shop.orders", TopicAccess(create="denied"), Status.FAIL, ["may not CREATE topic 'shop.orders'"]),
        ("shop.orders", TopicAccess(create="exists"), Status.FAIL, ["may not DESCRIBE topic 'shop.orders'"]),
    ],
)  # fmt: skip
def test_topic_access(topic, access, status, words):
    topic_finding, _group = acl_findings({topic: access}, CHECKPOINT, "user 'sync'")
    assert topic_finding.status is status
    for word in words:
        assert word in topic_finding.found
    if status is Status.FAIL:
        assert "to user 'sync'" in topic_finding.fix
    if access.create == "exists":
        assert "allow WRITE and DESCRIBE_CONFIGS on TOPIC" in topic_finding.fix


def test_group_access():
    allowed = acl_findings({}, CHECKPOINT, "user 'sync'")[-1]
    refused = acl_findings({}, CHECKPOINT, "user 'sync'", (True, "Group authorization failed"))[-1]
    unknown = acl_findings({}, CHECKPOINT, "user 'sync'", (False, "no answer in 30 s"))[-1]
    assert [allowed.status, refused.status, unknown.status] == [Status.OK, Status.FAIL, Status.WARN]
    assert "Group authorization failed" in refused.found
    assert "DESCRIBE on GROUP with the PREFIXED pattern 'obkafka-verify-'" in refused.fix
