"""Resolving a project against a source: pure, with the source given as plain data."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.routing.plan import resolve, topic_specs
from airflow_provider_obkafka.exceptions import ConfigError, SchemaError
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema, UniqueKey


def _schema(db: str, table: str, cols: tuple[str, ...], pk: tuple[str, ...] = ("id",), uks=()) -> TableSchema:
    columns = tuple(
        Column(name=c, position=i + 1, data_type="int", column_type="int", nullable=c not in pk)
        for i, c in enumerate(cols)
    )
    return TableSchema(database=db, table=table, columns=columns, primary_key=pk, unique_keys=uks)


class FakeSource:
    """A source given as data: tables, views."""

    def __init__(self, tables: list[TableSchema], views: tuple[TableRef, ...] = ()) -> None:
        self.tables = {t.ref: t for t in tables}
        self.views = set(views)

    def list_tables(self, databases):
        return sorted(ref for ref in self.tables if ref.database in databases)

    def describe(self, db, table):
        ref = TableRef(db, table)
        if ref in self.views:
            raise SchemaError(f"{db}.{table} is a view, not a physical table")
        if ref not in self.tables:
            raise SchemaError(f"table {db}.{table} does not exist")
        return self.tables[ref]


SOURCE = FakeSource(
    [
        _schema("shop", "orders", ("id", "customer", "total")),
        _schema("shop", "order_items", ("id", "order_id", "sku")),
        _schema("shop", "order_archive", ("id", "total")),
        _schema("shop", "logs", ("ts", "msg"), pk=(), uks=(UniqueKey(name="u", columns=("ts",), not_null=True),)),
        _schema("shop", "bare", ("a", "b"), pk=()),
    ],
    views=(TableRef("shop", "order_view"),),
)


def _project(objects, sync_types=("schema", "full")):
    return parse_project({"name": "p1", "sync_types": list(sync_types), "objects": objects})


def test_patterns_explicit_tables_topics_and_settings():
    project = _project(
        [
            {"database": "shop", "tables": ["order*"], "exclude": ["*_archive"], "topic": {"mode": "new", "name": "orders.all"},
             "shard_columns": ["id"]},
            {"database": "shop", "tables": ["logs", "bare"], "topic": {"mode": "batch"},
             "table_settings": {"logs": {"columns": ["ts"]}}},
        ]
    )
    plan = resolve(project, SOURCE.list_tables, SOURCE.describe)
    assert plan.problems == []
    got = {str(t.ref): (t.topic, t.topic_mode, t.columns()) for t in plan.tables}
    assert got == {
        "shop.order_items": ("orders.all", "new", ("id", "order_id", "sku")),
        "shop.orders": ("orders.all", "new", ("id", "customer", "total")),
        "shop.logs": ("Topic_shop_logs", "batch", ("ts",)),
        "shop.bare": ("Topic_shop_bare", "batch", ("a", "b")),
    }
    assert any("shop.logs has no primary key: it is chunked and keyed by its NOT NULL unique key (ts)" in w for w in plan.warnings)
    assert any("shop.bare has no primary key and no NOT NULL unique key" in w for w in plan.warnings)


def test_every_problem_is_reported_together():
    project = _project(
        [
            {"database": "shop", "tables": ["orders", "nope", "order_view"], "topic": {"mode": "new", "name": "t.one"},
             "shard_columns": ["customer_id"]},
            {"database": "shop", "tables": ["zz*"], "topic": {"mode": "new", "name": "t.two"}},
        ]
    )
    plan = resolve(project, SOURCE.list_tables, SOURCE.describe)
    text = "\n".join(plan.problems)
    assert "table shop.nope does not exist" in text
    assert "shop.order_view is a view, not a physical table" in text
    assert "table shop.orders has no column 'customer_id'; its columns are: id, customer, total" in text
    assert "['zz*'] match no physical table in database 'shop'" in text
    assert len(plan.problems) == 4
    with pytest.raises(ConfigError, match="cannot be synchronized \\(4 problems\\)"):
        plan.raise_for_problems(project)


def test_a_subset_of_tables_and_an_unknown_one():
    project = _project([{"database": "shop", "tables": ["order*"], "topic": {"mode": "new", "name": "t.one"}}])
    plan = resolve(project, SOURCE.list_tables, SOURCE.describe, only=["shop.orders", "shop.users"])
    assert [str(t.ref) for t in plan.tables] == ["shop.orders"]
    assert plan.problems == [
        "tables: 'shop.users' is not a table of this project; its tables are: shop.order_archive, shop.order_items, shop.orders"
    ]


def test_chinese_table_in_batch_mode_is_a_problem_naming_the_fix():
    source = FakeSource([_schema("shop", "订单", ("id",))])
    project = _project([{"database": "shop", "tables": ["*"], "topic": {"mode": "batch"}}])
    plan = resolve(project, source.list_tables, source.describe)
    assert len(plan.problems) == 1 and "订单" in plan.problems[0]


def test_topic_specs_create_new_topics_and_report_missing_existing():
    project = parse_project(
        {
            "name": "p2",
            "sync_types": ["schema", "full"],
            "topic_defaults": {"partitions": 6, "replication_factor": 1, "configs": {"retention.ms": "1000"}},
            "objects": [
                {"database": "shop", "tables": ["orders"], "topic": {"mode": "new", "name": "t.orders"}},
                {"database": "shop", "tables": ["order_items"], "topic": {"mode": "existing", "name": "t.items"}},
                {"database": "shop", "tables": ["logs"], "topic": {"mode": "batch"}},
            ],
        }
    )
    plan = resolve(project, SOURCE.list_tables, SOURCE.describe)
    specs, missing = topic_specs(project, plan, existing=[])
    assert [(s.name, s.partitions, s.configs) for s in specs] == [
        ("Topic_shop_logs", 6, {"retention.ms": "1000"}),
        ("t.orders", 6, {"retention.ms": "1000"}),
    ], "the checkpoint topic is checkpoint_topic_spec's, whatever the data topics use"
    assert missing and "'t.items' is mapped as an existing topic but does not exist" in missing[0]
    assert topic_specs(project, plan, existing=["t.items"])[1] == []
