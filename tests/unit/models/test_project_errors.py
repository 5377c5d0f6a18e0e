"""Invalid project files: every rule gives one issue naming the path, the bad value and the rule."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.loader import load_project, parse_project
from airflow_provider_obkafka.models.project_issues import ProjectIssue, ProjectValidationError
from tests.unit.models.project_data import DELETE, NOW, with_changes

INCREMENTAL_ONLY = ["schema", "incremental"]


def issues_of(data: Any) -> list[ProjectIssue]:
    with pytest.raises(ProjectValidationError) as caught:
        parse_project(data, source="x.yaml", now=NOW)
    return caught.value.errors


def entries(*pairs: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Object entries of database `shop`: (table, topic) pairs."""
    return [{"database": "shop", "tables": [table], "topic": topic} for table, topic in pairs]


NEW = {"mode": "new", "name": "shop.orders"}
CASES = [
    # Synchronization Project Name
    (
        "name-space",
        {"name": "a b"},
        "name",
        "'a b'",
        ["1 to 64 characters of letters, digits, Chinese", "'_' or '-'"],
    ),
    ("name-empty", {"name": ""}, "name", "''", ["1 to 64 characters"]),
    ("name-long", {"name": "n" * 65}, "name", "'nnnn", ["1 to 64 characters"]),
    ("name-dot", {"name": "a.b"}, "name", "'a.b'", ["letters, digits"]),
    ("name-missing", {"name": DELETE}, "name", "(missing)", ["required"]),
    ("name-number", {"name": 123}, "name", "123", ["must be text", "quotes"]),
    ("description-type", {"description": ["x"]}, "description", "['x']", ["must be text"]),
    # Tag
    ("tags-repeated", {"tags": ["a", "a"]}, "tags", "['a', 'a']", ["'a'", "more than once"]),
    ("tag-empty", {"tags": [""]}, "tags[0]", "''", ["1 to 32 characters"]),
    ("tag-long", {"tags": ["t" * 33]}, "tags[0]", "'ttt", ["1 to 32 characters"]),
    ("tags-not-list", {"tags": "a"}, "tags", "'a'", ["must be a list"]),
    # Source and destination nodes
    ("source-conn-space", {"source": {"conn_id": "bad id"}}, "source.conn_id", "'bad id'", ["ASCII letters"]),
    ("source-conn-empty", {"source": {"conn_id": ""}}, "source.conn_id", "''", ["1 to 250 characters"]),
    (
        "destination-conn-slash",
        {"destination": {"conn_id": "a/b"}},
        "destination.conn_id",
        "'a/b'",
        ["'_', '.'"],
    ),
    ("source-unknown", {"source": {"connid": "x"}}, "source.connid", "'x'", ["unknown option", "'conn_id'"]),
    # Synchronization Type and Configuration
    ("sync-types-empty", {"sync_types": []}, "sync_types", "[]", ["at least one"]),
    (
        "sync-type-ddl",
        {"sync_types": ["ddl"]},
        "sync_types[0]",
        "'ddl'",
        ["one of schema, full, incremental"],
    ),
    ("sync-types-text", {"sync_types": "full"}, "sync_types", "'full'", ["must be a list"]),
    ("sync-types-missing", {"sync_types": DELETE}, "sync_types", "(missing)", ["required"]),
    (
        "dml-ddl",
        {"incremental.dml": ["DDL"]},
        "incremental.dml[0]",
        "'DDL'",
        ["incremental.ddl: true", "INSERT, UPDATE, DELETE"],
    ),
    (
        "dml-empty",
        {"incremental.dml": []},
        "incremental.dml",
        "[]",
        ["at least one of INSERT, UPDATE, DELETE"],
    ),
    (
        "start-naive",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": "2025-05-01T00:00:00"},
        "incremental.start_timestamp",
        "'2025-05-01T00:00:00'",
        ["no time zone", "'+08:00'", "'Z'"],
    ),
    (
        "start-naive-yaml",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": datetime(2025, 5, 1)},
        "incremental.start_timestamp",
        "datetime.datetime(2025, 5, 1, 0, 0)",
        ["no time zone", "'+08:00'"],
    ),
    (
        "start-with-full",
        {"incremental.start_timestamp": "2025-05-01T00:00:00Z"},
        "incremental.start_timestamp",
        "'2025-05-01T00:00:00+00:00'",
        ["only without full synchronization", "snapshot point"],
    ),
    (
        "start-future",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": "2025-06-01T12:02:00Z"},
        "incremental.start_timestamp",
        "'2025-06-01T12:02:00Z'",
        ["in the future", "now (2025-06-01T12:00:00+00:00) or earlier"],
    ),
    (
        "start-milliseconds",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": 1746057600000},
        "incremental.start_timestamp",
        "1746057600000",
        ["not Unix epoch seconds", "milliseconds: divide by 1000"],
    ),
    (
        "start-negative",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": -1},
        "incremental.start_timestamp",
        "-1",
        ["not Unix epoch seconds"],
    ),
    (
        "start-words",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": "yesterday"},
        "incremental.start_timestamp",
        "'yesterday'",
        ["ISO 8601 time with a time zone", "Unix epoch seconds"],
    ),
    (
        "start-bool",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": True},
        "incremental.start_timestamp",
        "True",
        ["ISO 8601"],
    ),
    (
        "start-date",
        {"sync_types": INCREMENTAL_ONLY, "incremental.start_timestamp": date(2025, 5, 1)},
        "incremental.start_timestamp",
        "datetime.date(2025, 5, 1)",
        ["ISO 8601"],
    ),
    ("schedule-blank", {"incremental.schedule": "  "}, "incremental.schedule", "'  '", ["cron", "'@hourly'"]),
    (
        "incremental-not-selected",
        {"sync_types": ["schema", "full"], "incremental.dml": ["INSERT"]},
        "incremental",
        "{'dml': ['INSERT']}",
        ["'incremental' is not in sync_types"],
    ),
    (
        "incremental-unknown",
        {"incremental.start": 1},
        "incremental.start",
        "1",
        ["dml, ddl, start_timestamp, schedule"],
    ),
    # The object mapping
    ("objects-empty", {"objects": []}, "objects", "[]", ["at least one entry"]),
    ("objects-missing", {"objects": DELETE}, "objects", "(missing)", ["required"]),
    ("objects-text", {"objects": "orders"}, "objects", "'orders'", ["must be a list"]),
    ("database-dot", {"objects.0.database": "a.b"}, "objects[0].database", "'a.b'", ["backtick, NUL", "'.'"]),
    (
        "database-backtick",
        {"objects.0.database": "a`b"},
        "objects[0].database",
        "'a`b'",
        ["1 to 64 characters"],
    ),
    (
        "database-long",
        {"objects.0.database": "d" * 65},
        "objects[0].database",
        "'ddd",
        ["1 to 64 characters"],
    ),
    ("database-missing", {"objects.0.database": DELETE}, "objects[0].database", "(missing)", ["required"]),
    ("table-slash", {"objects.0.tables": ["a/b"]}, "objects[0].tables[0]", "'a/b'", ["'/'"]),
    ("table-backslash", {"objects.0.tables": ["a\\b"]}, "objects[0].tables[0]", "'a\\\\b'", ["'\\'"]),
    ("table-nul", {"objects.0.tables": ["a\x00b"]}, "objects[0].tables[0]", "'a\\x00b'", ["NUL"]),
    (
        "tables-empty",
        {"objects.0.tables": []},
        "objects[0].tables",
        "[]",
        ["at least one table name or pattern"],
    ),
    (
        "tables-repeated",
        {"objects.0.tables": ["orders", "orders"]},
        "objects[0].tables",
        "['orders', 'orders']",
        ["'orders'", "more than once"],
    ),
    (
        "table-number",
        {"objects.0.tables": [2024]},
        "objects[0].tables[0]",
        "2024",
        ["must be text", "quotes"],
    ),
    ("exclude-dot", {"objects.0.exclude": ["a.b"]}, "objects[0].exclude[0]", "'a.b'", ["'.'"]),
    (
        "table-excluded",
        {"objects.0.exclude": ["ord*"]},
        "objects[0].tables[0]",
        "'orders'",
        ["listed in tables but excluded by 'ord*'"],
    ),
    (
        "entry-unknown",
        {"objects.0.topics": 1},
        "objects[0].topics",
        "1",
        ["did you mean 'topic'", "database, tables"],
    ),
    # Map the Object to the Topic
    ("topic-missing", {"objects.0.topic": DELETE}, "objects[0].topic", "(missing)", ["required"]),
    (
        "topic-mode-bad",
        {"objects.0.topic.mode": "create"},
        "objects[0].topic.mode",
        "'create'",
        ["new, existing, batch"],
    ),
    (
        "topic-mode-missing",
        {"objects.0.topic.mode": DELETE},
        "objects[0].topic.mode",
        "(missing)",
        ["needs a mode"],
    ),
    (
        "topic-text",
        {"objects.0.topic": "shop.orders"},
        "objects[0].topic",
        "'shop.orders'",
        ["must be a mapping"],
    ),
    (
        "topic-name-short",
        {"objects.0.topic.name": "ab"},
        "objects[0].topic.name",
        "'ab'",
        ["3 to 64 characters"],
    ),
    (
        "topic-name-chinese",
        {"objects.0.topic.name": "订单主题"},
        "objects[0].topic.name",
        "'订单主题'",
        ["ASCII"],
    ),
    ("topic-name-long", {"objects.0.topic.name": "t" * 65}, "objects[0].topic.name", "'ttt", ["3 to 64"]),
    (
        "topic-name-space",
        {"objects.0.topic.name": "a b c"},
        "objects[0].topic.name",
        "'a b c'",
        ["'-', '_' and '.'"],
    ),
    (
        "topic-name-reserved",
        {"objects.0.topic.name": "__obkafka_x"},
        "objects[0].topic.name",
        "'__obkafka_x'",
        ["reserved for the project's internal topics"],
    ),
    (
        "topic-name-kafka",
        {"objects.0.topic.name": "__consumer_offsets"},
        "objects[0].topic.name",
        "'__consumer_offsets'",
        ["Kafka's internal topics"],
    ),
    (
        "topic-new-no-name",
        {"objects.0.topic": {"mode": "new"}},
        "objects[0].topic.name",
        "(missing)",
        ["required"],
    ),
    (
        "topic-existing-no-name",
        {"objects.0.topic": {"mode": "existing"}},
        "objects[0].topic.name",
        "(missing)",
        ["required"],
    ),
    (
        "topic-batch-named",
        {"objects.0.topic": {"mode": "batch", "name": "a.b.c"}},
        "objects[0].topic.name",
        "'a.b.c'",
        ["unknown option", "valid keys here are: mode"],
    ),
    (
        "new-without-schema",
        {"sync_types": ["full", "incremental"]},
        "objects[0].topic.mode",
        "'new'",
        ["only schema synchronization", "add 'schema' to sync_types", "or use mode: existing"],
    ),
    (
        "batch-without-schema",
        {"sync_types": ["incremental"], "objects.0.topic": {"mode": "batch"}},
        "objects[0].topic.mode",
        "'batch'",
        ["Batch Generate Topics only with Schema Synchronization"],
    ),
    (
        "new-and-existing",
        {"objects": entries(("orders", NEW), ("users", {"mode": "existing", "name": "shop.orders"}))},
        "objects[1].topic.name",
        "'shop.orders'",
        ["an existing topic (mode existing) here but created by the project", "objects[0]"],
    ),
    (
        "batch-and-existing",
        {
            "objects": entries(
                ("orders", {"mode": "batch"}), ("users", {"mode": "existing", "name": "Topic_shop_orders"})
            )
        },
        "objects[1].topic.name",
        "'Topic_shop_orders'",
        ["created by the project (mode new or batch) in objects[0]"],
    ),
    (
        "table-in-two-entries",
        {"objects": entries(("orders", NEW), ("orders", {"mode": "new", "name": "other.orders"}))},
        "objects[1].tables[0]",
        "'orders'",
        ["table shop.orders is already mapped by objects[0]", "one topic"],
    ),
    (
        "batch-chinese-table",
        {"objects.0.tables": ["订单"], "objects.0.topic": {"mode": "batch"}},
        "objects[0].tables[0]",
        "'订单'",
        ["'Topic_shop_订单'", "3 to 64 characters of ASCII", "explicit topic with an ASCII name"],
    ),
    (
        "batch-too-long",
        {"objects.0.tables": ["t" * 60], "objects.0.topic": {"mode": "batch"}},
        "objects[0].tables[0]",
        "'tttt",
        ["generated name 'Topic_shop_ttt", "3 to 64 characters"],
    ),
    # Settings: shard columns and columns
    (
        "shard-not-in-columns",
        {"objects.0.shard_columns": ["id"], "objects.0.columns": ["name"]},
        "objects[0].shard_columns",
        "['id']",
        ["shard column(s) id not among columns (name)", "add it to columns"],
    ),
    (
        "table-shard-not-in-columns",
        {"objects.0.table_settings": {"orders": {"shard_columns": ["k"], "columns": ["id"]}}},
        "objects[0].table_settings.orders.shard_columns",
        "['k']",
        ["shard column(s) k not among columns (id)"],
    ),
    (
        "table-columns-drop-shard",
        {"objects.0.shard_columns": ["id"], "objects.0.table_settings": {"orders": {"columns": ["name"]}}},
        "objects[0].table_settings.orders.columns",
        "['name']",
        ["shard column(s) id not among columns (name)"],
    ),
    ("columns-empty", {"objects.0.columns": []}, "objects[0].columns", "[]", ["must not be empty"]),
    (
        "columns-repeated",
        {"objects.0.columns": ["id", "id"]},
        "objects[0].columns",
        "['id', 'id']",
        ["'id'", "more than once"],
    ),
    (
        "shard-repeated",
        {"objects.0.shard_columns": ["id", "id"]},
        "objects[0].shard_columns",
        "['id', 'id']",
        ["more than once"],
    ),
    (
        "column-name-empty",
        {"objects.0.columns": [""]},
        "objects[0].columns[0]",
        "''",
        ["column name", "1 to 64"],
    ),
    (
        "column-name-long",
        {"objects.0.shard_columns": ["c" * 65]},
        "objects[0].shard_columns[0]",
        "'ccc",
        ["1 to 64 characters"],
    ),
    (
        "table-settings-not-listed",
        {"objects.0.table_settings": {"users": {}}},
        "objects[0].table_settings.users",
        "'users'",
        ["listed by name", "(listed by name: orders)"],
    ),
    (
        "table-settings-pattern-only",
        {"objects.0.tables": ["order*"], "objects.0.table_settings": {"orders": {"columns": ["id"]}}},
        "objects[0].table_settings.orders",
        "'orders'",
        ["not only matched by a pattern", "(listed by name: none)"],
    ),
    (
        "table-settings-unknown",
        {"objects.0.table_settings": {"orders": {"colums": ["id"]}}},
        "objects[0].table_settings.orders.colums",
        "['id']",
        ["did you mean 'columns'", "shard_columns, columns"],
    ),
    (
        "table-settings-bad-key",
        {"objects.0.table_settings": {"a/b": {}}},
        "objects[0].table_settings.a/b",
        "'a/b'",
        ["database or table name"],
    ),
    # Advanced options
    (
        "serialization-bad",
        {"options.serialization": "json"},
        "options.serialization",
        "'json'",
        ["Default, Canal, DataWorks, SharePlex, DefaultExtendColumnType, Debezium", "DATAWORKS_V2"],
    ),
    (
        "serialization-type",
        {"options.serialization": 1},
        "options.serialization",
        "1",
        ["must be one of Default"],
    ),
    (
        "partitioning-range",
        {"options.partitioning": "Range"},
        "options.partitioning",
        "'Range'",
        ["must be one of Hash, One"],
    ),
    (
        "intra-sequence-text",
        {"options.intra_transaction_sequence": "yes"},
        "options.intra_transaction_sequence",
        "'yes'",
        ["true or false"],
    ),
    (
        "key-change-unknown",
        {"options.key_change": "split"},
        "options.key_change",
        "'split'",
        ["must be one of update", "delete_then_insert"],
    ),
    (
        "tombstones-text",
        {"options.tombstones_on_delete": "on"},
        "options.tombstones_on_delete",
        "'on'",
        ["true or false"],
    ),
    (
        "business-id-long",
        {"options.business_system_id": "b" * 21},
        "options.business_system_id",
        "'bbb",
        ["1 to 20 characters"],
    ),
    (
        "business-id-empty",
        {"options.business_system_id": ""},
        "options.business_system_id",
        "''",
        ["1 to 20"],
    ),
    (
        "business-id-newline",
        {"options.business_system_id": "a\nb"},
        "options.business_system_id",
        "'a\\nb'",
        ["control characters"],
    ),
    ("chunk-size-zero", {"options.chunk_size": 0}, "options.chunk_size", "0", ["1 to 100000000"]),
    ("chunk-size-text", {"options.chunk_size": "10k"}, "options.chunk_size", "'10k'", ["whole number"]),
    ("idle-negative", {"options.idle_before_defer_s": -1}, "options.idle_before_defer_s", "-1", ["0 to 3600"]),
    ("batch-size-zero", {"options.batch_size": 0}, "options.batch_size", "0", ["1 to 1000000"]),
    ("batch-size-text", {"options.batch_size": "1k"}, "options.batch_size", "'1k'", ["whole number"]),
    ("retry-for-negative", {"options.retry_for_s": -5}, "options.retry_for_s", "-5", ["0 to 604800"]),
    ("retry-for-float", {"options.retry_for_s": 1.5}, "options.retry_for_s", "1.5", ["whole number"]),
    ("render-on-server-text", {"options.render_on_server": "no"}, "options.render_on_server", "'no'", ["true or false"]),
    ("chunk-max-bytes-low", {"options.chunk_max_bytes": 1000}, "options.chunk_max_bytes", "1000", ["1024 to"]),
    ("chunk-max-bytes-text", {"options.chunk_max_bytes": "1MB"}, "options.chunk_max_bytes", "'1MB'", ["whole number"]),
    ("defer-hold-negative", {"options.defer_hold_s": -1}, "options.defer_hold_s", "-1", ["0 to 600"]),
    ("work-items-zero", {"options.full_sync_work_items": 0}, "options.full_sync_work_items", "0", ["1 to 100000"]),
    ("work-items-text", {"options.full_sync_work_items": "8"}, "options.full_sync_work_items", "'8'", ["whole number"]),
    (
        "max-changes-per-kafka-transaction-zero",
        {"options.max_changes_per_kafka_transaction": 0},
        "options.max_changes_per_kafka_transaction",
        "0",
        ["1 to 100000000"],
    ),
    (
        "max-changes-per-kafka-transaction-text",
        {"options.max_changes_per_kafka_transaction": "100k"},
        "options.max_changes_per_kafka_transaction",
        "'100k'",
        ["whole number"],
    ),
    (
        "transaction-timeout-low",
        {"options.transaction_timeout_ms": 999},
        "options.transaction_timeout_ms",
        "999",
        ["1000 to 2147483647", "transaction.max.timeout.ms"],
    ),
    (
        "transaction-timeout-text",
        {"options.transaction_timeout_ms": "15min"},
        "options.transaction_timeout_ms",
        "'15min'",
        ["whole number"],
    ),
    (
        "options-unknown",
        {"options.partitoning": "One"},
        "options.partitoning",
        "'One'",
        ["did you mean 'partitioning'", "valid keys here are: serialization, intra_transaction_sequence"],
    ),
    # Topics the project creates
    ("partitions-zero", {"topic_defaults.partitions": 0}, "topic_defaults.partitions", "0", ["1 to 10000"]),
    (
        "partitions-big",
        {"topic_defaults.partitions": 10001},
        "topic_defaults.partitions",
        "10001",
        ["1 to 10000"],
    ),
    (
        "partitions-text",
        {"topic_defaults.partitions": "3"},
        "topic_defaults.partitions",
        "'3'",
        ["whole number"],
    ),
    (
        "partitions-float",
        {"topic_defaults.partitions": 2.5},
        "topic_defaults.partitions",
        "2.5",
        ["whole number"],
    ),
    (
        "replication-zero",
        {"topic_defaults.replication_factor": 0},
        "topic_defaults.replication_factor",
        "0",
        ["1 to 32"],
    ),
    (
        "replication-big",
        {"topic_defaults.replication_factor": 33},
        "topic_defaults.replication_factor",
        "33",
        ["1 to 32"],
    ),
    (
        "configs-empty-key",
        {"topic_defaults.configs": {"": "x"}},
        "topic_defaults.configs['']",
        "''",
        ["must not be empty"],
    ),
    (
        "configs-list",
        {"topic_defaults.configs": {"a": [1]}},
        "topic_defaults.configs.a",
        "[1]",
        ["must be text"],
    ),
    (
        "topic-defaults-unknown",
        {"topic_defaults.replicas": 3},
        "topic_defaults.replicas",
        "3",
        ["valid keys here are: partitions, replication_factor, configs"],
    ),
    # Internal settings
    (
        "checkpoint-dots",
        {"checkpoint_topic": ".."},
        "checkpoint_topic",
        "'..'",
        ["Kafka topic name", "'.' or '..'"],
    ),
    ("checkpoint-space", {"checkpoint_topic": "a b"}, "checkpoint_topic", "'a b'", ["1 to 249 characters"]),
    ("checkpoint-long", {"checkpoint_topic": "c" * 250}, "checkpoint_topic", "'ccc", ["1 to 249 characters"]),
    (
        "checkpoint-kafka",
        {"checkpoint_topic": "__transaction_state"},
        "checkpoint_topic",
        "'__transaction_state'",
        ["Kafka's internal topics"],
    ),
    (
        "checkpoint-is-data-topic",
        {"checkpoint_topic": "shop.orders"},
        "checkpoint_topic",
        "'shop.orders'",
        ["also the topic of objects[0]", "project's own"],
    ),
    ("server-id-zero", {"server_id": 0}, "server_id", "0", ["1 to 4294967295"]),
    ("server-id-big", {"server_id": 2**32}, "server_id", "4294967296", ["1 to 4294967295"]),
    ("server-id-text", {"server_id": "abc"}, "server_id", "'abc'", ["whole number"]),
    (
        "unknown-top",
        {"sink": {}},
        "sink",
        "{}",
        ["unknown option", "valid keys here are: name, description, tags"],
    ),
    (
        "unknown-top-field-name",
        {"checkpoint_topic_override": "x.y"},
        "checkpoint_topic_override",
        "'x.y'",
        ["checkpoint_topic, server_id"],
    ),
]


@pytest.mark.parametrize(
    ("changes", "path", "value", "words"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_gives_one_issue(changes, path, value, words):
    issues = issues_of(with_changes(changes))
    assert [issue.path for issue in issues] == [path]
    line = str(issues[0])
    assert line.startswith(f"{path}: {value}")
    for word in words:
        assert word in line


MANY_ERRORS = (
    "name: a b\n"
    "sync_types: [full, incremental]\n"
    "incremental:\n"
    "  dml: [INSERT, DDL]\n"
    "objects:\n"
    "  - database: shop\n"
    "    tables: [orders]\n"
    "    topic: {mode: new, name: ab}\n"
    "  - database: shop\n"
    "    tables: [users]\n"
    "    topic: {mode: batch}\n"
    "  - database: shop\n"
    "    tables: [users]\n"
    "    topic: {mode: existing, name: shop.users}\n"
    "options:\n"
    "  partitioning: Range\n"
    "  serialisation: Canal\n"
    "topic_defaults: {partitions: 0}\n"
)


def test_all_errors_of_a_file_are_reported_together(tmp_path):
    project_file = tmp_path / "x.yaml"
    project_file.write_text(MANY_ERRORS, encoding="utf-8")
    with pytest.raises(ProjectValidationError) as caught:
        load_project(project_file, now=NOW)
    error = caught.value
    expected = [
        ("name", 1),
        ("incremental.dml[1]", 4),
        ("objects[0].topic.name", 8),
        ("objects[1].topic.mode", 11),
        ("objects[2].tables[0]", 13),
        ("options.partitioning", 16),
        ("options.serialisation", 17),
        ("topic_defaults.partitions", 18),
    ]
    assert [(issue.path, issue.line) for issue in error.errors] == expected
    text = str(error)
    assert text.startswith(f"project file {project_file} has 8 errors:\n  - name: 'a b' — must be 1 to 64")
    assert "  - objects[1].topic.mode: 'batch' — mode 'batch' creates topics" in text
    assert "  - objects[2].tables[0]: 'users' — table shop.users is already mapped by objects[1]" in text
    assert "(line 16)" in text


def test_error_text_has_the_documented_shape():
    data = with_changes({"name": "a b", "objects.0.topic.name": "ab", "options.partitioning": "Range"})
    with pytest.raises(ProjectValidationError) as caught:
        parse_project(data, source="dags/projects/x.yaml", now=NOW)
    assert str(caught.value) == (
        "project file dags/projects/x.yaml has 3 errors:\n"
        "  - name: 'a b' — must be 1 to 64 characters of letters, digits, Chinese characters, '_' or '-'\n"
        "  - objects[0].topic.name: 'ab' — a topic name must be 3 to 64 characters of ASCII letters, digits, "
        "'-', '_' and '.'\n"
        "  - options.partitioning: 'Range' — must be one of Hash, One"
    )
    assert isinstance(caught.value, ConfigError)


def test_one_error_is_singular():
    with pytest.raises(ProjectValidationError, match="has 1 error:\n"):
        parse_project(with_changes({"name": "a b"}), now=NOW)


def test_long_values_are_cut_to_eighty_characters():
    issue = issues_of(with_changes({"name": "x" * 200}))[0]
    shown = str(issue).split(" — ")[0].removeprefix("name: ")
    assert len(shown) == 80
    assert shown.endswith("...")


def test_cross_field_rules_run_beside_field_errors():
    changes = {"name": "a b", "sync_types": ["incremental"], "objects.0.topic.name": "shop.orders"}
    assert [issue.path for issue in issues_of(with_changes(changes))] == ["name", "objects[0].topic.mode"]


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    project_file = tmp_path / "bad.yaml"
    project_file.write_text("name: orders\nobjects: [\n  {database: shop\n", encoding="utf-8")
    with pytest.raises(ProjectValidationError) as caught:
        load_project(project_file)
    [issue] = caught.value.errors
    assert issue.path.startswith("line ")
    assert ", column " in issue.path
    assert "is not valid YAML" in issue.message


def test_yaml_tab_indentation_error_points_at_the_line(tmp_path):
    project_file = tmp_path / "tabs.yaml"
    project_file.write_text("name: orders\noptions:\n\tpartitioning: One\n", encoding="utf-8")
    with pytest.raises(ProjectValidationError) as caught:
        load_project(project_file)
    assert caught.value.errors[0].path == "line 3, column 1"
    assert "partitioning: One" in str(caught.value)


def test_repeated_yaml_key_is_an_error(tmp_path):
    project_file = tmp_path / "twice.yaml"
    project_file.write_text(
        "name: orders\nsync_types: [full]\nobjects:\n"
        "  - {database: shop, tables: [orders], topic: {mode: existing, name: shop.orders}}\n"
        "options:\n  partitioning: One\n  partitioning: Hash\n",
        encoding="utf-8",
    )
    with pytest.raises(ProjectValidationError) as caught:
        load_project(project_file)
    [issue] = caught.value.errors
    assert (issue.path, issue.value, issue.line) == ("options.partitioning", "Hash", 7)
    assert "given twice" in issue.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "the project is empty"),
        ("# only a comment\n", "the project is empty"),
        (
            "- name: x\n",
            "must be a mapping of options (name: ..., sync_types: ..., objects: ...), not a list",
        ),
        ("orders\n", "not a str"),
    ],
)
def test_empty_file_and_top_level_that_is_not_a_mapping(tmp_path, text, words):
    project_file = tmp_path / "p.yaml"
    project_file.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectValidationError, match="has 1 error") as caught:
        load_project(project_file)
    assert words in str(caught.value)


def test_parse_project_refuses_a_list():
    with pytest.raises(ProjectValidationError, match="not a list"):
        parse_project([{"name": "x"}])  # type: ignore[arg-type]


def test_file_that_is_not_utf8(tmp_path):
    project_file = tmp_path / "latin1.yaml"
    project_file.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ProjectValidationError, match="is not UTF-8 text"):
        load_project(project_file)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read project file") as caught:
        load_project(tmp_path / "absent.yaml")
    assert not isinstance(caught.value, ProjectValidationError)


@pytest.mark.parametrize(
    ("types", "incremental", "words"),
    [
        (["schema", "verify"], {}, "checks what full or incremental synchronization wrote"),
        (["schema", "incremental", "verify"], {}, "continuous incremental synchronization never ends"),
    ],
)
def test_verify_needs_a_sync_that_ends(types, incremental, words):
    data = {"name": "p", "sync_types": types, "objects": entries(("orders", NEW)),
            **({"incremental": incremental} if incremental else {})}  # fmt: skip
    issues = issues_of(data)
    assert [issue.path for issue in issues] == ["sync_types"]
    assert words in str(issues[0]) and "'verify'" in str(issues[0])
