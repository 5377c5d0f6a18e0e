"""Valid project files: every OMS option reads into the model as documented."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pendulum
import pydantic
import pytest
import yaml

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.loader import load_project, parse_project
from airflow_provider_obkafka.models.naming import Dml, KeyChange, Partitioning, Serialization, SyncType
from airflow_provider_obkafka.models.project import SyncProject
from airflow_provider_obkafka.models.sections import BatchTopics, ExistingTopic, NewTopic
from tests.unit.models.project_data import NOW, minimal_project, with_changes

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "dags" / "projects" / "example_orders.yaml"


def parse(changes: dict[str, object] | None = None) -> SyncProject:
    return parse_project(with_changes(changes or {}), now=NOW)


def test_minimal_project_defaults():
    project = parse()
    assert project.name == "orders_to_kafka"
    assert project.description is None
    assert project.tags == ()
    assert project.source.conn_id == "oceanbase_default"
    assert project.destination.conn_id == "kafka_default"
    assert project.incremental.dml == (Dml.INSERT, Dml.UPDATE, Dml.DELETE)
    assert project.incremental.start_timestamp is None
    assert project.incremental.schedule is None
    assert project.options.serialization is Serialization.DEFAULT
    assert project.options.intra_transaction_sequence is False
    assert project.options.partitioning is Partitioning.HASH
    assert project.options.business_system_id is None
    assert project.options.key_change is KeyChange.UPDATE, "off by default: OMS's one UPDATE"
    assert project.options.tombstones_on_delete is False


def test_topic_defaults_are_oms_defaults():
    defaults = parse().topic_defaults
    assert (defaults.partitions, defaults.replication_factor, defaults.configs) == (3, 1, {})


def test_topic_defaults_given():
    changes = {
        "topic_defaults": {"partitions": 12, "replication_factor": 3, "configs": {"retention.ms": 86400000}}
    }
    defaults = parse(changes).topic_defaults
    assert (defaults.partitions, defaults.replication_factor) == (12, 3)
    assert defaults.configs == {"retention.ms": "86400000"}


def test_topic_config_booleans_are_written_as_kafka_writes_them():
    defaults = parse(
        {"topic_defaults": {"configs": {"unclean.leader.election.enable": False}}}
    ).topic_defaults
    assert defaults.configs == {"unclean.leader.election.enable": "false"}


def test_description_tags_and_connections():
    changes = {
        "description": "orders for the warehouse",
        "tags": ["demo", "订单", "x" * 32],
        "source": {"conn_id": "ob.prod-1"},
        "destination": {"conn_id": "kafka_prod"},
    }
    project = parse(changes)
    assert project.description == "orders for the warehouse"
    assert project.tags == ("demo", "订单", "x" * 32)
    assert (project.source.conn_id, project.destination.conn_id) == ("ob.prod-1", "kafka_prod")


@pytest.mark.parametrize("name", ["orders", "订单同步", "orders_to-kafka2", "同步_orders-1", "x" * 64, "7"])
def test_project_names(name):
    assert parse({"name": name}).name == name


def test_chinese_project_name_gets_ascii_internal_names():
    project = parse({"name": "订单同步"})
    assert project.slug.startswith("xn--")
    assert project.slug.isascii()
    assert project.checkpoint_topic == f"__obkafka_checkpoints.{project.slug}"
    assert project.checkpoint_topic == parse({"name": "订单同步"}).checkpoint_topic


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["schema", "full", "incremental"], (SyncType.SCHEMA, SyncType.FULL, SyncType.INCREMENTAL)),
        (["Incremental", "FULL", "Schema"], (SyncType.SCHEMA, SyncType.FULL, SyncType.INCREMENTAL)),
        (["full"], (SyncType.FULL,)),
        (["incremental", "incremental"], (SyncType.INCREMENTAL,)),
    ],
)
def test_sync_types_any_case_in_stable_order(given, expected):
    changes = {"sync_types": given, "objects.0.topic.mode": "existing"}
    assert parse(changes).sync_types == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["INSERT"], (Dml.INSERT,)),
        (["delete", "Insert"], (Dml.INSERT, Dml.DELETE)),
        (["UPDATE", "DELETE", "INSERT"], (Dml.INSERT, Dml.UPDATE, Dml.DELETE)),
    ],
)
def test_incremental_dml_subsets(given, expected):
    assert parse({"incremental": {"dml": given}}).incremental.dml == expected


@pytest.mark.parametrize(
    "given",
    [
        "2025-05-01T08:00:00+08:00",
        "2025-05-01T00:00:00Z",
        "2025-05-01 00:00:00+00:00",
        1746057600,
        datetime(2025, 5, 1, 8, tzinfo=timezone(timedelta(hours=8))),
    ],
)
def test_start_timestamp_forms_are_stored_in_utc(given):
    changes = {"sync_types": ["schema", "incremental"], "incremental": {"start_timestamp": given}}
    start = parse(changes).incremental.start_timestamp
    assert isinstance(start, pendulum.DateTime)
    assert start == pendulum.datetime(2025, 5, 1, tz="UTC")
    assert start.utcoffset() == timedelta(0)


def test_start_timestamp_allows_sixty_seconds_of_clock_skew():
    changes = {
        "sync_types": ["incremental"],
        "incremental": {"start_timestamp": NOW.add(seconds=59).isoformat()},
    }
    changes["objects.0.topic.mode"] = "existing"
    assert parse(changes).incremental.start_timestamp == NOW.add(seconds=59)


def test_start_timestamp_from_yaml_timestamp():
    text = "start_timestamp: 2025-05-01T08:00:00+08:00\n"
    changes = {"sync_types": ["schema", "incremental"], "incremental": yaml.safe_load(text)}
    assert parse(changes).incremental.start_timestamp == pendulum.datetime(2025, 5, 1, tz="UTC")


@pytest.mark.parametrize("schedule", ["@hourly", "*/10 * * * *", None])
def test_incremental_schedule(schedule):
    assert parse({"incremental": {"schedule": schedule}}).incremental.schedule == schedule


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Default", Serialization.DEFAULT),
        ("Canal", Serialization.CANAL),
        ("DataWorks", Serialization.DATAWORKS),
        ("Dataworks", Serialization.DATAWORKS),
        ("SharePlex", Serialization.SHAREPLEX),
        ("DefaultExtendColumnType", Serialization.DEFAULT_EXTEND_COLUMN_TYPE),
        ("Debezium", Serialization.DEBEZIUM),
        ("debezium", Serialization.DEBEZIUM),
        ("DEFAULT", Serialization.DEFAULT),
        ("CANAL", Serialization.CANAL),
        ("DATAWORKS_V2", Serialization.DATAWORKS),
        ("SHAREPLEX", Serialization.SHAREPLEX),
        ("DEFAULT_WITH_SCHEMA", Serialization.DEFAULT_EXTEND_COLUMN_TYPE),
        ("DEBEZIUM", Serialization.DEBEZIUM),
    ],
)
def test_serialization_methods_ui_and_api_names(given, expected):
    assert parse({"options": {"serialization": given}}).options.serialization is expected


def test_serialization_values_are_ui_names_with_api_names():
    assert [member.value for member in Serialization] == [
        "Default",
        "Canal",
        "DataWorks",
        "SharePlex",
        "DefaultExtendColumnType",
        "Debezium",
    ]
    assert Serialization.DATAWORKS.api_name == "DATAWORKS_V2"
    assert Serialization.DEFAULT_EXTEND_COLUMN_TYPE.api_name == "DEFAULT_WITH_SCHEMA"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Hash", Partitioning.HASH),
        ("hash", Partitioning.HASH),
        ("One", Partitioning.ONE),
        ("ONE", Partitioning.ONE),
    ],
)
def test_partitioning_rules(given, expected):
    assert parse({"options": {"partitioning": given}}).options.partitioning is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("update", KeyChange.UPDATE), ("delete_then_insert", KeyChange.DELETE_THEN_INSERT),
     ("Delete_Then_Insert", KeyChange.DELETE_THEN_INSERT)],
)  # fmt: skip
def test_key_change_and_tombstones(given, expected):
    options = parse({"options": {"key_change": given, "tombstones_on_delete": True}}).options
    assert options.key_change is expected
    assert options.tombstones_on_delete is True


@pytest.mark.parametrize("business_id", ["a", "CIBS", "业务系统", "x" * 20])
def test_business_system_identification(business_id):
    assert parse({"options": {"business_system_id": business_id}}).options.business_system_id == business_id


def test_intra_transaction_sequence():
    changes = {"options": {"intra_transaction_sequence": True, "serialization": "SharePlex"}}
    assert parse(changes).options.intra_transaction_sequence is True


def test_each_topic_mode():
    objects = [
        {"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.orders"}},
        {"database": "shop", "tables": ["users"], "topic": {"mode": "Existing", "name": "users-v1"}},
        {"database": "shop", "tables": ["items"], "topic": {"mode": "BATCH"}},
    ]
    project = parse({"objects": objects})
    assert isinstance(project.objects[0].topic, NewTopic)
    assert isinstance(project.objects[1].topic, ExistingTopic)
    assert isinstance(project.objects[2].topic, BatchTopics)
    assert project.topic_for("shop", "orders") == "shop.orders"
    assert project.topic_for("shop", "users") == "users-v1"
    assert project.topic_for("shop", "items") == "Topic_shop_items"
    assert project.known_topics() == {
        "shop.orders": "new",
        "users-v1": "existing",
        "Topic_shop_items": "batch",
    }


def test_tables_merged_into_one_topic():
    objects = [
        {"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.all"}},
        {"database": "crm", "tables": ["orders"], "topic": {"mode": "new", "name": "shop.all"}},
        {"database": "shop", "tables": ["a", "b"], "topic": {"mode": "existing", "name": "merged"}},
        {"database": "shop", "tables": ["c"], "topic": {"mode": "existing", "name": "merged"}},
    ]
    project = parse({"objects": objects})
    assert {project.topic_for(db, table) for db, table in [("shop", "orders"), ("crm", "orders")]} == {
        "shop.all"
    }
    assert {project.topic_for("shop", table) for table in "abc"} == {"merged"}


def test_patterns_and_excludes():
    objects = [
        {
            "database": "shop",
            "tables": ["order_*", "item?"],
            "exclude": ["order_tmp*"],
            "topic": {"mode": "new", "name": "shop.orders"},
        },
        {"database": "shop", "tables": ["order_special"], "topic": {"mode": "new", "name": "shop.special"}},
        {"database": "shop", "tables": ["log[0-9]"], "topic": {"mode": "batch"}},
    ]
    project = parse({"objects": objects})
    assert project.match("shop", "order_2024") is project.objects[0]
    assert project.match("shop", "item1") is project.objects[0]
    assert project.match("shop", "order_tmp1") is None
    assert project.match("shop", "Order_2024") is None, "matching is case-sensitive"
    assert project.match("other", "order_2024") is None
    assert project.match("shop", "order_special") is project.objects[1], "a name listed explicitly wins"
    assert project.topic_for("shop", "log7") == "Topic_shop_log7"


def test_table_matching_two_entries_patterns_is_ambiguous():
    objects = [
        {"database": "shop", "tables": ["order*"], "topic": {"mode": "new", "name": "t.one"}},
        {"database": "shop", "tables": ["*s"], "topic": {"mode": "new", "name": "t.two"}},
    ]
    project = parse({"objects": objects})
    with pytest.raises(ConfigError, match=r"shop\.orders matches the patterns of objects\[0\], objects\[1\]"):
        project.match("shop", "orders")


def test_topic_for_a_table_out_of_scope():
    project = parse()
    with pytest.raises(ConfigError, match=r"table shop\.users is not in the scope"):
        project.topic_for("shop", "users")
    with pytest.raises(ConfigError, match="not in the scope"):
        project.topic_for("shop", "users", project.objects[0])


def test_batch_pattern_with_chinese_table_raises_when_resolved():
    project = parse({"objects.0.tables": ["*"], "objects.0.topic": {"mode": "batch"}})
    assert project.topic_for("shop", "orders") == "Topic_shop_orders"
    with pytest.raises(ConfigError, match="Topic_shop_订单"):
        project.topic_for("shop", "订单")


def test_shard_columns_columns_and_table_settings():
    entry = {
        "database": "shop",
        "tables": ["orders", "items", "log_*"],
        "topic": {"mode": "new", "name": "shop.x"},
        "shard_columns": ["id"],
        "columns": ["id", "status"],
        "table_settings": {
            "items": {"shard_columns": ["order_id"], "columns": ["order_id", "sku"]},
            "orders": {"columns": ["id", "total"]},
        },
    }
    mapped = parse({"objects": [entry]}).objects[0]
    assert mapped.settings_for("log_1").shard_columns == ("id",)
    assert mapped.settings_for("log_1").columns == ("id", "status")
    assert mapped.settings_for("items").shard_columns == ("order_id",)
    assert mapped.settings_for("items").columns == ("order_id", "sku")
    assert mapped.settings_for("orders").shard_columns == ("id",)
    assert mapped.settings_for("orders").columns == ("id", "total")


def test_shard_columns_without_columns_means_all_columns():
    mapped = parse({"objects.0.shard_columns": ["tenant_id", "id"]}).objects[0]
    assert mapped.settings_for("orders").shard_columns == ("tenant_id", "id")
    assert mapped.settings_for("orders").columns is None


def test_chinese_table_name_mapped_to_an_explicit_topic():
    objects = [
        {
            "database": "商城",
            "tables": ["订单"],
            "topic": {"mode": "new", "name": "shop.orders"},
            "table_settings": {"订单": {"shard_columns": ["编号"]}},
        }
    ]
    project = parse({"objects": objects})
    assert project.topic_for("商城", "订单") == "shop.orders"
    assert project.objects[0].settings_for("订单").shard_columns == ("编号",)


def test_checkpoint_topic_and_server_id_given():
    project = parse({"checkpoint_topic": "orders.checkpoints", "server_id": 4_000_000_000})
    assert project.checkpoint_topic == "orders.checkpoints"
    assert project.server_id == 4_000_000_000


def test_checkpoint_topic_and_server_id_derived_from_the_name():
    project = parse()
    assert project.checkpoint_topic == "__obkafka_checkpoints.orders_to_kafka"
    assert 1 <= project.server_id <= 2**31 - 1
    assert project.server_id == parse().server_id
    assert project.server_id != parse({"name": "other"}).server_id


def test_project_is_frozen():
    project = parse()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        project.name = "other"


def test_round_trip_through_yaml():
    changes = {
        "tags": ["a"],
        "sync_types": ["schema", "incremental"],
        "options": {"serialization": "canal"},
        "incremental": {"start_timestamp": 1746057600, "dml": ["insert"]},
        "server_id": 7,
        "objects.0.table_settings": {"orders": {"columns": ["id"]}},
    }
    project = parse(changes)
    again = parse_project(yaml.safe_load(project.to_yaml()), now=NOW)
    assert again == project
    assert "oceanbase_default" not in project.to_yaml(), "defaults are left out"


def test_direct_construction_checks_rules_across_fields():
    data = with_changes({"sync_types": ["full"]})
    with pytest.raises(ConfigError, match=r"objects\[0\]\.topic\.mode: 'new' — mode 'new' creates topics"):
        SyncProject.model_validate(data)


def test_example_project_file_loads():
    project = load_project(EXAMPLE)
    assert project.name == "orders_to_kafka"
    assert project.sync_types == (SyncType.SCHEMA, SyncType.FULL, SyncType.INCREMENTAL)
    assert {"new", "existing", "batch"} == set(project.known_topics().values())
    assert project.topic_for("shop", "订单备注") == "shop.order_notes"
    assert project.topic_for("shop", "audit_login") == "shop.audit"
    assert project.match("shop", "audit_tmp_1") is None


def test_example_project_file_uses_every_option():
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = [
        "description",
        "tags",
        "conn_id",
        "dml",
        "start_timestamp",
        "schedule",
        "exclude",
        "shard_columns",
        "columns",
        "table_settings",
        "serialization",
        "intra_transaction_sequence",
        "partitioning",
        "business_system_id",
        "key_change",
        "tombstones_on_delete",
        "chunk_size",
        "render_on_server",
        "idle_before_defer_s",
        "batch_size",
        "retry_for_s",
        "partitions",
        "replication_factor",
        "configs",
        "checkpoint_topic",
        "server_id",
    ]
    assert [key for key in keys if f"{key}:" not in text] == []
    assert all(f"mode: {mode}" in text for mode in ("new", "existing", "batch"))


def test_minimal_data_is_not_changed_by_parsing():
    data = minimal_project()
    parse_project(data, now=NOW)
    assert data == minimal_project()


def test_models_import_without_airflow():
    code = (
        "import sys; sys.modules['airflow'] = None\n"
        "import airflow_provider_obkafka.models.loader, airflow_provider_obkafka.models.project\n"
        "import airflow_provider_obkafka.models.naming"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_resume_by_defaults_to_position_and_names_its_choices():
    assert parse().incremental.resume_by == "position"
    assert parse({"incremental.resume_by": "gtid"}).incremental.resume_by == "gtid"
    with pytest.raises(ConfigError, match=r"incremental\.resume_by: 'gtids' .*'position' or 'gtid'"):
        parse({"incremental.resume_by": "gtids"})
