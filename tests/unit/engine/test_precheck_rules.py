"""Precheck rules on facts given as data: grants, binlog settings, tables, Kafka, topics, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from airflow_provider_obkafka.engine.precheck.grants import parse_grants
from airflow_provider_obkafka.engine.precheck.kafka import (
    transaction_findings,
    transaction_timeout_findings,
    version_findings,
)
from airflow_provider_obkafka.engine.precheck.objects import classify, object_findings
from airflow_provider_obkafka.engine.precheck.report import Check, Report, Status, fail, ok, warn
from airflow_provider_obkafka.engine.precheck.source import (
    BinlogFacts,
    SourceFacts,
    binlog_findings,
    gtid_findings,
    select_findings,
    snapshot_findings,
    source_findings,
    start_findings,
)
from airflow_provider_obkafka.engine.precheck.topics import TopicState, topic_findings
from airflow_provider_obkafka.engine.routing.plan import resolve
from airflow_provider_obkafka.models.loader import parse_project
from tests.unit.engine.test_plan import SOURCE, FakeSource, _schema

MARIADB_SELECT_ONLY = (
    "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D821'",
    "GRANT SELECT ON `shop`.* TO `u`@`%`",
)
MARIADB_REPLICA = (
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`",
    "GRANT SELECT ON `shop`.* TO `u`@`%`",
)
OCEANBASE_REPLICA = (
    "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'u'",
    "GRANT SELECT ON `shop`.* TO 'u'",
)


def _source(grants: tuple[str, ...] | None, ob: bool = True) -> SourceFacts:
    return SourceFacts(
        "h:2881", "5.7.25-OceanBase_CE-v4.2.1", "OceanBase 4.2.1", ob, "u@%", grants, "no grants"
    )


def _binlog(variables: dict[str, str], grants=MARIADB_REPLICA, position: str | None = "binlog.000001:4"):
    return BinlogFacts(
        "h:2883", position, "" if position else "reports no binlog position", variables, grants
    )


FULL_ROW = {"binlog_format": "ROW", "binlog_row_image": "FULL", "log_bin": "ON"}


@pytest.mark.parametrize(
    ("lines", "privileges", "database", "table", "expected"),
    [
        (MARIADB_SELECT_ONLY, ("SELECT",), "shop", None, True),
        (MARIADB_SELECT_ONLY, ("SELECT",), "other", None, False),
        (MARIADB_SELECT_ONLY, ("REPLICATION SLAVE",), "*", None, False),
        (MARIADB_REPLICA, ("REPLICATION CLIENT", "BINLOG MONITOR"), "*", None, True),
        (OCEANBASE_REPLICA, ("REPLICATION CLIENT",), "*", None, True),
        (
            ("GRANT ALL PRIVILEGES ON *.* TO 'root' WITH GRANT OPTION",),
            ("REPLICATION SLAVE",),
            "*",
            None,
            True,
        ),
        (
            ("GRANT SELECT ON `shop\\_1`.* TO u",),
            ("SELECT",),
            "shopx1",
            None,
            False,
        ),  # escaped `_` is literal
        (("GRANT SELECT ON `shop_`.* TO u",), ("SELECT",), "shopx", None, True),  # bare `_` is a wildcard
        (("GRANT SELECT ON `s`.`orders` TO u",), ("SELECT",), "s", "orders", True),
        (("GRANT SELECT ON `s`.`orders` TO u",), ("SELECT",), "s", None, False),
        (("GRANT SELECT (`id`) ON `s`.`orders` TO 'u'",), ("SELECT",), "s", "orders", False),
        (("GRANT SELECT ON `shop`.* TO u",), ("SELECT",), "*", None, False),  # a database grant is not global
    ],
)
def test_grants_parse_mysql_mariadb_and_oceanbase_spellings(lines, privileges, database, table, expected):
    assert parse_grants(lines).has(privileges, database, table) is expected


def test_grants_note_roles_and_column_privileges():
    grants = parse_grants(["GRANT `reader`@`%` TO `u`@`%`", "GRANT SELECT (a, b), INSERT ON s.t TO u"])
    assert grants.has_roles
    assert grants.column_only("s", "t")
    assert not grants.has(("SELECT",), "s", "t")
    assert grants.has(("INSERT",), "s", "t")


def test_source_names_oceanbase_or_the_mysql_compatible_server():
    (found,) = source_findings(_source(()), full_sync=True)
    assert found.status is Status.OK
    assert "OceanBase answers at h:2881" in found.found
    (other,) = source_findings(_source((), ob=False), full_sync=True)
    assert other.status is Status.WARN
    assert "MySQL-compatible server, not OceanBase" in other.found
    assert "AS OF one snapshot" in other.found


@pytest.mark.parametrize(("retention", "status"), [(1800, Status.OK), (7200, Status.OK), (600, Status.WARN)])
def test_snapshot_retention_bounds_the_full_sync(retention, status):
    (found,) = snapshot_findings(_source(())._replace(undo_retention_s=retention))
    assert found.status is status
    assert f"undo_retention is {retention} s" in found.found
    assert f"must finish within {retention} s" in found.found
    assert ("ALTER SYSTEM SET undo_retention" in found.fix) is (status is Status.WARN)


def test_snapshot_retention_is_not_said_without_oceanbase_or_the_parameter():
    assert snapshot_findings(_source((), ob=False)._replace(undo_retention_s=1800)) == []
    assert snapshot_findings(_source(())) == []


def test_select_missing_on_a_database_fails_naming_it_and_the_grant():
    facts = _source(MARIADB_SELECT_ONLY)
    assert select_findings(facts, {"shop": ["orders"]}, set())[0].status is Status.OK
    (finding,) = select_findings(facts, {"shop": ["orders"], "crm": ["users"]}, {"crm"})
    assert finding.status is Status.FAIL
    assert (
        "lacks SELECT on crm.* (table patterns need SELECT on the whole database), crm.users" in finding.found
    )
    assert "GRANT SELECT ON <database>.* TO u@%" in finding.fix


def test_select_unknown_grants_or_roles_warn_instead():
    assert select_findings(_source(None), {"shop": ["t"]}, set())[0].status is Status.WARN
    roles = _source(("GRANT `r`@`%` TO `u`@`%`",))
    (finding,) = select_findings(roles, {"shop": ["t"]}, set())
    assert finding.status is Status.WARN
    assert "roles are granted too" in finding.found


def test_binlog_row_full_and_replication_privileges_pass():
    findings = binlog_findings(_binlog(FULL_ROW), "u@%")
    assert [(f.check, f.status) for f in findings] == [
        (Check.BINLOG, Status.OK),
        (Check.BINLOG_PRIVILEGES, Status.OK),
    ]
    assert "binlog_format=ROW, binlog_row_image=FULL" in findings[0].found


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("binlog_row_image", "MINIMAL", "lack the column values"),
        ("binlog_format", "STATEMENT", "no row changes"),
    ],
)
def test_binlog_settings_other_than_row_full_fail(variable, value, why):
    findings = binlog_findings(_binlog({**FULL_ROW, variable: value}), "u@%")
    (bad,) = [f for f in findings if f.status is Status.FAIL]
    assert bad.found == f"h:2883 has GLOBAL {variable}={value}, not {FULL_ROW[variable]}"
    assert bad.fix.startswith(f"SET GLOBAL {variable} = '{FULL_ROW[variable]}'")
    assert why in bad.fix


def test_binlog_without_position_or_replication_grants_fails():
    findings = binlog_findings(_binlog(FULL_ROW, grants=MARIADB_SELECT_ONLY, position=None), "u@%")
    assert [f.status for f in findings] == [Status.FAIL, Status.FAIL]
    assert "CREATE BINLOG FOR TENANT" in findings[0].fix
    assert "log_bin" in findings[0].fix
    assert "lacks REPLICATION SLAVE and REPLICATION CLIENT" in findings[1].found
    assert findings[1].fix.startswith("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO u@%")


def test_start_timestamp_must_be_within_the_logs_reach():
    earliest = datetime(2024, 5, 1, tzinfo=UTC)
    (good,) = start_findings(datetime(2024, 5, 2, tzinfo=UTC), earliest, "binlog.000003:120")
    assert good.status is Status.OK
    assert "reading starts at binlog.000003:120" in good.found
    (late,) = start_findings(datetime(2024, 4, 30, tzinfo=UTC), earliest.replace(tzinfo=None), None)
    assert late.status is Status.FAIL
    assert not late.retryable
    assert "before the earliest event still in the change log (2024-05-01T00:00:00+00:00)" in late.found
    assert "add 'full' to sync_types" in late.fix


@pytest.mark.parametrize(
    ("version", "status", "words"),
    [
        ("0.10.2-IV0", Status.FAIL, ["0.10.2-IV0", "older than 0.11 has no transactions"]),
        ("0.11.0-IV2", Status.WARN, ["0.11.0-IV2", "KIP-360"]),
        ("2.4-IV1", Status.WARN, ["2.4-IV1", "KIP-360"]),
        ("2.8-IV1", Status.OK, ["2.8-IV1", "2.5 or later"]),
        ("3.9-IV0", Status.OK, ["3.9-IV0"]),
        (None, Status.OK, ["Kafka 4.0 or later"]),
    ],
)
def test_kafka_version_rule(version, status, words):
    (finding,) = version_findings(version, "b:9092")
    assert finding.status is status
    for word in words:
        assert word in finding.found
    if status is Status.FAIL:
        assert "0.11" in finding.fix


def test_an_unread_kafka_version_is_a_warning_naming_describe_configs():
    unread = "DescribeConfigs on broker 1 failed: Cluster authorization failed"
    (finding,) = version_findings(None, "b:9092", unread)
    assert finding.status is Status.WARN
    assert "Cluster authorization failed" in finding.found
    assert "DescribeConfigs" in finding.fix


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", ["WRITE and DESCRIBE on TRANSACTIONAL_ID", "'obkafka.shop"]),
        ("CLUSTER_AUTHORIZATION_FAILED", ["IDEMPOTENT_WRITE on the CLUSTER"]),
        ("_UNSUPPORTED_FEATURE", ["upgrade Kafka to 0.11"]),
        ("_TRANSPORT", ["security.protocol"]),
    ],
)
def test_a_refused_transaction_names_what_is_missing(code, words):
    (finding,) = transaction_findings("obkafka.shop_precheck.abc", "obkafka.shop", code, "refused")
    assert finding.status is Status.FAIL
    assert "'obkafka.shop_precheck.abc' " in finding.found
    for word in words:
        assert word in finding.fix
    (passed,) = transaction_findings("obkafka.shop_precheck.abc", "obkafka.shop")
    assert passed.status is Status.OK


PROJECT = parse_project(
    {
        "name": "shop_sync",
        "sync_types": ["schema", "full"],
        "objects": [
            {"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.orders"}},
            {"database": "shop", "tables": ["order_items"], "topic": {"mode": "existing", "name": "items"}},
        ],
    }
)


def test_topics_existing_missing_and_new_free_or_compatible():
    topics = PROJECT.known_topics()
    findings = topic_findings(PROJECT, topics, {}, brokers=1)
    statuses = {(f.check, f.status) for f in findings}
    assert (Check.EXISTING_TOPICS, Status.FAIL) in statuses
    assert [f.found for f in findings if f.check is Check.NEW_TOPICS][0].startswith(
        "topic 'shop.orders' is free"
    )
    present = {"items": TopicState(3, 1, {}), "shop.orders": TopicState(6, 1, {})}
    by_topic = {f.found.split("'")[1]: f for f in topic_findings(PROJECT, topics, present, brokers=1)}
    assert by_topic["items"].status is Status.OK
    assert by_topic["shop.orders"].status is Status.FAIL
    assert "6 partition(s), the project asks for 3" in by_topic["shop.orders"].found


def test_topics_that_collide_or_need_more_brokers_fail():
    findings = topic_findings(
        PROJECT,
        PROJECT.known_topics(),
        {"items": TopicState(3, 1, {}), "shop_orders": TopicState(1, 1, {})},
        1,
    )
    (collision,) = [f for f in findings if "collides" in f.found]
    assert "'shop.orders' collides with shop_orders" in collision.found
    wide = PROJECT.model_copy(
        update={"topic_defaults": PROJECT.topic_defaults.model_copy(update={"replication_factor": 3})}
    )
    findings = topic_findings(wide, wide.known_topics(), {"items": TopicState(3, 1, {})}, 1)
    assert any("needs replication factor 3, the cluster has 1 broker(s)" in f.found for f in findings)


@pytest.mark.parametrize(
    ("sync_types", "step"),
    [
        (["schema", "full", "incremental"], "schema synchronization"),
        (["full", "incremental"], "full synchronization (full_sync_plan)"),
        (["incremental"], "incremental synchronization"),
    ],
)
def test_checkpoint_topic_is_created_by_the_first_step(sync_types, step):
    project = parse_project({"name": "p1", "sync_types": sync_types, "objects": [
        {"database": "shop", "tables": ["orders"], "topic": {"mode": "existing", "name": "orders"}}]})  # fmt: skip
    findings = topic_findings(project, project.known_topics(), {"orders": TopicState(3, 1, {})}, brokers=1)
    (checkpoint,) = [f for f in findings if project.checkpoint_topic in f.found]
    assert checkpoint.status is Status.OK
    assert checkpoint.found.endswith(f"is free; {step}, the first step, creates it (1 partition(s), "
                                     "replication factor 1)"), checkpoint.found  # fmt: skip


@pytest.mark.parametrize(
    ("timeout_ms", "broker_max_ms", "status"),
    [(900_000, 900_000, Status.OK), (60_000, 900_000, Status.OK), (900_001, 900_000, Status.FAIL),
     (3_600_000, 1_800_000, Status.FAIL), (3_600_000, 3_600_000, Status.OK)],
)  # fmt: skip
def test_transaction_timeout_within_the_brokers_maximum(timeout_ms, broker_max_ms, status):
    (finding,) = transaction_timeout_findings(timeout_ms, {1: broker_max_ms})
    assert finding.check is Check.TRANSACTION_TIMEOUT
    assert finding.status is status
    assert f"transaction.timeout.ms {timeout_ms}" in finding.found
    assert f"transaction.max.timeout.ms {broker_max_ms}" in finding.found
    if status is Status.FAIL:
        assert f"set options.transaction_timeout_ms to {broker_max_ms} or less" in finding.fix
        assert "raise transaction.max.timeout.ms" in finding.fix


def test_transaction_timeout_against_the_smallest_broker_maximum_or_a_warning_when_unread():
    (finding,) = transaction_timeout_findings(900_000, {1: 900_000, 2: 600_000, 3: 900_000})
    assert finding.status is Status.FAIL
    assert "broker 2" in finding.found and "transaction.max.timeout.ms 600000" in finding.found
    (unread,) = transaction_timeout_findings(900_000, {})
    assert unread.status is Status.WARN
    assert "make sure transaction.max.timeout.ms is at least 900000" in unread.fix


def test_an_existing_checkpoint_topic_with_other_settings_warns_and_one_with_partitions_fails():
    project = parse_project({"name": "p1", "sync_types": ["incremental"], "objects": [
        {"database": "shop", "tables": ["orders"], "topic": {"mode": "existing", "name": "orders"}}]})  # fmt: skip
    old = {"orders": TopicState(3, 1, {}), project.checkpoint_topic: TopicState(1, 1, {"cleanup.policy": "compact"})}
    found = [f for f in topic_findings(project, project.known_topics(), old, brokers=3)
             if project.checkpoint_topic in f.found]  # fmt: skip
    assert {f.status for f in found} == {Status.WARN}
    text = " ".join(f.found for f in found)
    assert "segment.ms=None (the first step sets '600000')" in text
    assert "replication factor 1, 3 on this cluster's brokers" in text
    wide = {**old, project.checkpoint_topic: TopicState(3, 3, {})}
    (bad,) = [f for f in topic_findings(project, project.known_topics(), wide, brokers=3)
              if project.checkpoint_topic in f.found]  # fmt: skip
    assert bad.status is Status.FAIL and "has 3 partitions" in bad.found and "must have 1" in bad.fix


def test_object_findings_sort_resolve_problems_into_checks():
    project = parse_project(
        {
            "name": "p",
            "sync_types": ["schema", "full"],
            "objects": [
                {"database": "shop", "tables": ["orders", "order_view", "gone", "bare"],
                 "shard_columns": ["customer"], "topic": {"mode": "new", "name": "shop.all"}},
                {"database": "shop", "tables": ["logs"], "columns": ["nope"],
                 "topic": {"mode": "new", "name": "logs"}},
            ],
        }
    )  # fmt: skip
    findings = object_findings(resolve(project, SOURCE.list_tables, SOURCE.describe))
    got = {(f.check, f.status) for f in findings}
    assert (Check.TABLES, Status.FAIL) in got
    assert (Check.COLUMNS, Status.FAIL) in got
    assert (Check.SHARD_COLUMNS, Status.FAIL) in got  # bare has no column `customer`
    view = next(f for f in findings if "order_view" in f.found)
    assert "base tables" in view.fix
    keys = next(f for f in findings if f.check is Check.NO_PRIMARY_KEY)
    assert keys.status is Status.OK
    assert keys.found == "each of the 1 table(s) found has a primary key"


def test_object_findings_ok_and_no_primary_key_warning():
    source = FakeSource([_schema("s", "a", ("id", "v")), _schema("s", "b", ("v",), pk=())])
    project = parse_project(
        {
            "name": "p",
            "sync_types": ["full"],
            "objects": [{"database": "s", "tables": ["*"], "topic": {"mode": "existing", "name": "ttt"}}],
        }
    )
    findings = object_findings(resolve(project, source.list_tables, source.describe))
    assert [(f.check, f.status) for f in findings] == [
        (Check.TABLES, Status.OK), (Check.SHARD_COLUMNS, Status.OK), (Check.COLUMNS, Status.OK),
        (Check.NO_PRIMARY_KEY, Status.WARN),
    ]  # fmt: skip
    assert "s.a, s.b" in findings[0].found
    assert "s.b has no primary key" in findings[3].found


def test_classify_batch_names():
    check, fix = classify(
        "objects[0] shop.x: batch topic for table shop.x: the generated name ... is not valid"
    )
    assert check is Check.NEW_TOPICS
    assert "explicit topic" in fix


def test_report_passes_with_warnings_retries_only_when_every_failure_is_retryable():
    findings = [ok(Check.SOURCE, "up"), warn(Check.NO_PRIMARY_KEY, "s.b", "add one")]
    assert Report.of("p", findings).passed
    down = fail(Check.DESTINATION, "Kafka is not reachable", "start it", retryable=True)
    assert Report.of("p", [*findings, down]).retryable
    missing = fail(Check.TABLES, "s.x does not exist", "create it")
    report = Report.of("p", [down, *findings, missing])
    assert not report.passed
    assert not report.retryable
    assert [f.check for f in report.findings] == [
        Check.SOURCE,
        Check.TABLES,
        Check.NO_PRIMARY_KEY,
        Check.DESTINATION,
    ]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["project"] == "p"
    assert data["passed"] is False
    assert data["findings"][1] == {
        "check": "Physical tables", "status": "FAIL", "found": "s.x does not exist", "fix": "create it",
        "retryable": False,
    }  # fmt: skip
    table = report.as_table()
    assert table.splitlines()[0] == "precheck of project 'p' failed: 1 OK, 1 WARN, 2 FAIL"
    assert "| FAIL   | Physical tables" in table
    assert "| STATUS | CHECK" in table
    assert all(len(line) == len(table.splitlines()[1]) for line in table.splitlines()[1:])


@pytest.mark.parametrize(
    ("resume_by", "gtid_set", "position", "expected"),
    [("gtid", "0-1-42", "binlog.000001:4", Status.OK), ("gtid", None, "binlog.000001:4", Status.WARN),
     ("position", None, "binlog.000001:4", None), ("gtid", None, None, None)],
    ids=["gtid reported", "no gtid set", "resume by position", "no binlog (failed elsewhere)"],
)  # fmt: skip
def test_resume_by_gtid_needs_an_executed_gtid_set(resume_by, gtid_set, position, expected):
    facts = _binlog(FULL_ROW, position=position)._replace(gtid_set=gtid_set)
    findings = gtid_findings(facts, resume_by)
    assert [f.status for f in findings] == ([] if expected is None else [expected])
    if expected is Status.WARN:
        assert "incremental.resume_by" in findings[0].found and "gtid_mode=ON" in findings[0].fix


@pytest.mark.parametrize(
    ("settings", "found"),
    [
        pytest.param({}, "no table sets shard columns: each is keyed by its primary key", id="none-set"),
        pytest.param({"shard_columns": ["v"]}, "the shard columns of s.a, s.c exist", id="all-set"),
        pytest.param(
            {"table_settings": {"a": {"shard_columns": ["v"]}}},
            "the shard columns of s.a exist; s.c keyed by its primary key", id="some-set",
        ),
    ],
)
def test_shard_columns_line_says_which_key_each_table_uses(settings, found):
    """The line named the primary key as the default even where shard columns were set."""
    source = FakeSource([_schema("s", "a", ("id", "v")), _schema("s", "c", ("id", "v"))])
    entry = {"database": "s", "tables": ["a", "c"], "topic": {"mode": "existing", "name": "ttt"}, **settings}
    project = parse_project({"name": "p", "sync_types": ["full"], "objects": [entry]})
    findings = object_findings(resolve(project, source.list_tables, source.describe))
    (line,) = [f for f in findings if f.check is Check.SHARD_COLUMNS]
    assert (line.status, line.found) == (Status.OK, found)
