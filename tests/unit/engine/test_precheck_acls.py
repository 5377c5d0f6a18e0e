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


def test_the_dead_letter_topic_is_checked_and_named_when_a_table_uses_it():
    from airflow_provider_obkafka.hooks.kafka_checks import acl_topic_names
    from airflow_provider_obkafka.models.loader import parse_project

    data = {"name": "shop", "sync_types": ["schema", "full"],
            "objects": [{"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.orders"}}]}  # fmt: skip
    plain, dead = parse_project(data), parse_project({**data, "options": {"oversize_rows": "dead_letter"}})
    assert acl_topic_names(plain, ["shop.orders"]) == [plain.checkpoint_topic, "shop.orders"]
    assert dead.dead_letter_topic in acl_topic_names(dead, ["shop.orders"])
    finding = acl_findings({dead.dead_letter_topic: TopicAccess(operations=ALL - {"WRITE"})}, CHECKPOINT,
                           "user 'sync'", dead_letter_topic=dead.dead_letter_topic)[0]  # fmt: skip
    assert finding.status is Status.FAIL
    assert f"may not WRITE dead-letter topic '{dead.dead_letter_topic}'" in finding.found
