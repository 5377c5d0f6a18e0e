"""Name rules and generated names: batch topics, the project slug, the checkpoint topic, the server_id."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.naming import (
    batch_topic_name,
    default_checkpoint_topic,
    default_server_id,
    format_path,
    is_pattern,
    project_slug,
)


@pytest.mark.parametrize(
    ("database", "table", "expected"),
    [
        ("shop", "orders", "Topic_shop_orders"),
        ("db-1", "t.v2", "Topic_db-1_t.v2"),
        ("d", "t" * 55, "Topic_d_" + "t" * 55),
    ],
)
def test_batch_topic_name(database, table, expected):
    assert batch_topic_name(database, table) == expected


def test_batch_topic_name_with_a_chinese_table_explains_the_fix():
    with pytest.raises(ConfigError) as caught:
        batch_topic_name("shop", "订单")
    message = str(caught.value)
    assert "table shop.订单" in message
    assert "'Topic_shop_订单'" in message
    assert "3 to 64 characters of ASCII letters, digits, '-', '_' and '.'" in message
    assert "map this table to an explicit topic with an ASCII name" in message
    assert "{mode: new, name: ...}" in message
    assert "{mode: existing, name: ...}" in message


def test_batch_topic_name_too_long():
    table = "t" * 57
    with pytest.raises(ConfigError) as caught:
        batch_topic_name("d", table)
    assert f"table d.{table}" in str(caught.value)
    assert f"'Topic_d_{table}'" in str(caught.value)
    assert "3 to 64 characters" in str(caught.value)


@pytest.mark.parametrize("table", ["order items", "a$b", "ü"])
def test_batch_topic_name_refuses_other_characters(table):
    with pytest.raises(ConfigError, match="not a valid Kafka topic name"):
        batch_topic_name("shop", table)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orders_to_kafka", "orders_to_kafka"),
        ("a-b", "a-b"),
        ("订单", "xn--" + "订单".encode("punycode").decode()),
    ],
)
def test_project_slug(name, expected):
    assert project_slug(name) == expected


def test_slug_of_a_long_chinese_name_is_bounded_and_distinct():
    long_a, long_b = "订" * 63 + "甲", "订" * 63 + "乙"
    slug_a, slug_b = project_slug(long_a), project_slug(long_b)
    assert slug_a.isascii()
    assert slug_b.isascii()
    assert len(default_checkpoint_topic(long_a)) <= 249
    assert slug_a != slug_b
    assert slug_a == project_slug(long_a)


def test_default_checkpoint_topic():
    assert default_checkpoint_topic("orders") == "__obkafka_checkpoints.orders"


@pytest.mark.parametrize("name", ["a", "orders_to_kafka", "订单同步", "x" * 64])
def test_default_server_id_is_stable_and_in_range(name):
    server_id = default_server_id(name)
    assert 1 <= server_id <= 2**31 - 1
    assert server_id == default_server_id(name)


def test_default_server_ids_differ_between_projects():
    assert len({default_server_id(f"project_{index}") for index in range(1000)}) == 1000


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("objects", 1, "topic", "name"), "objects[1].topic.name"),
        (("objects", 0, "table_settings", "订单", "columns"), "objects[0].table_settings.订单.columns"),
        (("objects", 0, "table_settings", "order items"), "objects[0].table_settings['order items']"),
        (("topic_defaults", "configs", ""), "topic_defaults.configs['']"),
        ((), "(top level)"),
    ],
)
def test_format_path(loc, expected):
    assert format_path(loc) == expected


@pytest.mark.parametrize(
    ("name", "expected"), [("orders", False), ("order_*", True), ("t?", True), ("t[0-9]", True)]
)
def test_is_pattern(name, expected):
    assert is_pattern(name) is expected
