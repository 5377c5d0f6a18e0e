"""
Kafka ACLs, on a PRIVATE SASL_SSL broker with the StandardAuthorizer: the minimal ACL set of docs/security.md
suffices for precheck, schema, full and incremental synchronization, and each ACL of it, taken away, makes
the precheck report a finding that names it.
"""

from __future__ import annotations

import json
import time

import pendulum
import pytest
import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient
from confluent_kafka.admin import ResourcePatternType as Pattern
from confluent_kafka.admin import ResourceType as Resource

from airflow_provider_obkafka.dag_factory import dag_id_for
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.precheck.report import Check, Status
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.sensors.precheck import run_precheck
from devservices.kafka import KafkaService
from devservices.kafka_security import KafkaSecurity
from tests.integration.private_services import Private
from tests.integration.test_project_dag import _load_dag_file, _records, _states

USER, PASSWORD = "sync", "acl-sync-password-1"


@pytest.fixture(scope="module")
def acl_kafka(tmp_path_factory):
    """A private SASL_SSL broker with the authorizer on; yields the sync user's and the admin's configs."""
    security = KafkaSecurity("sasl_ssl", {USER: PASSWORD}, authorizer=True)
    private = Private(KafkaService(security=security), tmp_path_factory.mktemp("kafka-acl"))
    with private.within():
        sync, admin = private.service.client_config(USER), private.service.client_config("admin")
    yield sync, admin
    private.stop()


def _allow(resource: Resource, name: str, pattern: Pattern, operation: AclOperation) -> AclBinding:
    return AclBinding(resource, name, pattern, f"User:{USER}", "*", operation, AclPermissionType.ALLOW)


def minimal_acls(project) -> dict[str, AclBinding]:
    """The minimal ACL set of docs/security.md for `project`, by a label naming each binding."""
    data, checkpoint = f"{project.name}.orders", project.checkpoint_topic
    lit, pre = Pattern.LITERAL, Pattern.PREFIXED
    prefix = checkpoints.transactional_id_prefix(project.slug)
    return {
        "TRANSACTIONAL_ID WRITE": _allow(Resource.TRANSACTIONAL_ID, prefix, pre, AclOperation.WRITE),
        "GROUP DESCRIBE": _allow(Resource.GROUP, "obkafka-verify-", pre, AclOperation.DESCRIBE),
        "CLUSTER DESCRIBE_CONFIGS": _allow(
            Resource.BROKER, "kafka-cluster", lit, AclOperation.DESCRIBE_CONFIGS
        ),
        "data CREATE": _allow(Resource.TOPIC, data, lit, AclOperation.CREATE),
        "data WRITE": _allow(Resource.TOPIC, data, lit, AclOperation.WRITE),
        "data DESCRIBE_CONFIGS": _allow(Resource.TOPIC, data, lit, AclOperation.DESCRIBE_CONFIGS),
        "checkpoint CREATE": _allow(Resource.TOPIC, checkpoint, lit, AclOperation.CREATE),
        "checkpoint READ": _allow(Resource.TOPIC, checkpoint, lit, AclOperation.READ),
        "checkpoint WRITE": _allow(Resource.TOPIC, checkpoint, lit, AclOperation.WRITE),
        "checkpoint DESCRIBE_CONFIGS": _allow(Resource.TOPIC, checkpoint, lit, AclOperation.DESCRIBE_CONFIGS),
    }  # fmt: skip


def _grant(admin: AdminClient, bindings) -> None:
    for future in admin.create_acls(list(bindings)).values():
        future.result(30)


def _revoke(admin: AdminClient, binding: AclBinding) -> None:
    match = AclBindingFilter(binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
                             binding.host, binding.operation, binding.permission_type)  # fmt: skip
    admin.delete_acls([match])[match].result(30)


def _finding_naming(project: dict, check: Check, words: list[str], deadline_s: float = 30.0):
    """Run the precheck until a finding of `check` holds every word (ACL changes take a moment to apply)."""
    deadline = time.monotonic() + deadline_s
    while True:
        report = run_precheck(project)
        found = [f for f in report.findings if f.check is check and all(w in f.found + f.fix for w in words)]
        if found or time.monotonic() > deadline:
            return report, found
        time.sleep(1.0)


@pytest.fixture
def acl_project(acl_kafka, airflow_conn_env, monkeypatch, mariadb_database):
    sync, admin = acl_kafka
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps({"conn_type": "kafka", "extra": sync}))
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_ADMIN", json.dumps({"conn_type": "kafka", "extra": admin}))
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
        cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'NEW'), (2, 'PAID')")
    topic = {"mode": "new", "name": f"{db}.orders"}
    data = {"name": db, "source": {"conn_id": "mariadb_binlog"},
            "sync_types": ["schema", "full", "incremental"], "incremental": {"schedule": "* * * * *"},
            "options": {"defer_hold_s": 0},  # dag.test(): no scheduler to race
            "objects": [{"database": db, "tables": ["orders"], "topic": topic}]}
    return data, parse_project(data), AdminClient({**admin, "log_level": 0})  # fmt: skip


# (the ACL taken away, the check that names it, words of its finding)
BEFORE_CREATION = [
    ("TRANSACTIONAL_ID WRITE", Check.TRANSACTIONS, ["WRITE and DESCRIBE on TRANSACTIONAL_ID", "PREFIXED"]),
    ("CLUSTER DESCRIBE_CONFIGS", Check.KAFKA_VERSION, ["DescribeConfigs"]),
    ("data CREATE", Check.KAFKA_ACLS, ["may not CREATE topic"]),
    ("checkpoint CREATE", Check.KAFKA_ACLS, ["may not CREATE checkpoint topic"]),
]
AFTER_CREATION = [
    ("data WRITE", Check.KAFKA_ACLS, ["may not DESCRIBE topic", "allow WRITE and DESCRIBE_CONFIGS"]),
    ("data DESCRIBE_CONFIGS", Check.KAFKA_ACLS, ["may not DESCRIBE_CONFIGS topic"]),
    ("checkpoint READ", Check.KAFKA_ACLS, ["may not READ checkpoint topic"]),
    ("checkpoint WRITE", Check.KAFKA_ACLS, ["may not WRITE checkpoint topic"]),
    ("checkpoint DESCRIBE_CONFIGS", Check.KAFKA_ACLS, ["may not DESCRIBE_CONFIGS checkpoint topic"]),
    ("GROUP DESCRIBE", Check.KAFKA_ACLS, ["may not use the consumer group of the checkpoint reader"]),
]


def _each_missing_acl_is_named(data, project, admin, acls, cases) -> None:
    for label, check, words in cases:
        _revoke(admin, acls[label])
        try:
            report, found = _finding_naming(data, check, words)
            assert found, f"without {label}: no {check.value} finding names it:\n{report.as_table()}"
            expected = Status.WARN if label == "CLUSTER DESCRIBE_CONFIGS" else Status.FAIL
            assert found[0].status is expected, (label, found[0])
        finally:
            _grant(admin, [acls[label]])


def test_the_minimal_acl_set_suffices_and_each_missing_acl_is_named(acl_project, airflow_db, tmp_path):
    data, project, admin = acl_project
    report = run_precheck(data)
    assert not report.passed, "no ACL: the precheck fails"
    assert any(f.check is Check.TRANSACTIONS and f.status is Status.FAIL for f in report.findings)
    acls = minimal_acls(project)
    _grant(admin, acls.values())
    report, _ = _finding_naming(data, Check.TRANSACTIONS, ["initialized, began and aborted"])
    assert report.passed, report.as_table()
    _each_missing_acl_is_named(data, project, admin, acls, BEFORE_CREATION)

    projects = tmp_path / "projects"
    projects.mkdir()
    (projects / f"{project.name}.yaml").write_text(yaml.safe_dump(data))
    dag = _load_dag_file(airflow_db, f"projects_{project.name}", projects)[dag_id_for(project.name)]
    run = dag.test(logical_date=pendulum.now("UTC").start_of("minute"))
    assert str(run.state) == "success", _states(run)
    assert set(_states(run).values()) == {"success"}, _states(run)
    rows = _records(KafkaHook("kafka_admin"), f"{project.name}.orders")  # the sync user may not read it
    kinds = {key: [r["recordType"] for r in records] for key, records in rows.items()}
    assert kinds == {b"1": ["ROW"], b"2": ["ROW"]}

    report = run_precheck(data)
    assert report.passed, report.as_table()
    _each_missing_acl_is_named(data, project, admin, acls, AFTER_CREATION)
    _the_group_acl_is_needed(project, admin, acls["GROUP DESCRIBE"])


def _the_group_acl_is_needed(project, admin: AdminClient, binding: AclBinding) -> None:
    """Without the GROUP ACL the checkpoint reader is refused, as the precheck's finding says."""
    KafkaHook().read_committed(project.checkpoint_topic, timeout=30)
    _revoke(admin, binding)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                KafkaHook().read_committed(project.checkpoint_topic, timeout=30)
            except KafkaException as exc:
                assert exc.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED, exc
                return
            assert time.monotonic() < deadline, "the checkpoint reader still reads without the GROUP ACL"
            time.sleep(1.0)
    finally:
        _grant(admin, [binding])
