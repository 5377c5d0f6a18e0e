"""The change model: RowChange helpers, TableContext building, column selection and key text."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from decimal import Decimal
from typing import Any

import orjson
import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RecordType, RowChange
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.exceptions import SchemaError
from airflow_provider_obkafka.models.schema import Column, TableSchema, UniqueKey

COLUMNS = (("id", "bigint"), ("region", "varchar"), ("amount", "decimal"), ("note", "text"), ("flags", "bit"))


def schema(primary_key: tuple[str, ...] = ("id",), unique_keys: tuple[UniqueKey, ...] = ()) -> TableSchema:
    """orders(id, region, amount, note, flags)."""
    columns = tuple(
        Column(name=name, position=i, data_type=dt, column_type=dt, precision=8 if dt == "bit" else None)
        for i, (name, dt) in enumerate(COLUMNS, start=1)
    )
    return TableSchema(database="shop", table="orders", columns=columns, primary_key=primary_key,
                       unique_keys=unique_keys)  # fmt: skip


ROW = (7, "华东", Decimal("10.50"), None, b"\x05")
NAMES = tuple(name for name, _ in COLUMNS)


def change(**kw: Any) -> RowChange:
    """An UPDATE of order 7 whose region changes; fields overridable."""
    fields: dict[str, Any] = {
        "database": "shop", "table": "orders", "record_type": RecordType.UPDATE, "columns": NAMES,
        "before": (7, "华北", Decimal("10.50"), None, b"\x05"), "after": ROW, "key_columns": ("id",),
        "commit_ts_us": 1_609_344_671_000_000, "checkpoint": "mysql-bin.000003:1234",
        "transaction_id": "1002_1", "sequence": 2,
    }  # fmt: skip
    return RowChange(**{**fields, **kw})


def test_record_types_are_oms_names() -> None:
    assert [t.value for t in RecordType] == ["ROW", "INSERT", "UPDATE", "DELETE", "HEARTBEAT"]
    assert RecordType("ROW") is RecordType.ROW
    assert [t.value for t in DbType] == ["OB_MYSQL", "MYSQL"]


def test_row_change_is_frozen_and_slotted() -> None:
    row_change = change()
    with pytest.raises(dataclasses.FrozenInstanceError):
        row_change.table = "other"  # type: ignore[misc]
    assert not hasattr(row_change, "__dict__")


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, (7,)),
        ({"after": None}, (7,)),
        ({"before": None, "after": None}, ()),
        ({"key_columns": ("region", "id")}, ("华东", 7)),
        ({"key_columns": ()}, ()),
    ],
    ids=["after", "before when no after", "no image", "composite from after", "no key"],
)
def test_key_values(kw: dict[str, Any], expected: tuple[Any, ...]) -> None:
    assert change(**kw).key_values() == expected


def test_image_dict() -> None:
    row_change = change(before=None)
    assert row_change.image_dict("after") == dict(zip(NAMES, ROW, strict=True))
    assert row_change.image_dict("before") is None


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (schema(), ("id",)),
        (schema((), (UniqueKey(name="u1", columns=("region",), not_null=False),
                     UniqueKey(name="u2", columns=("region", "id"), not_null=True))), ("region", "id")),
        (schema((), (UniqueKey(name="u1", columns=("region",), not_null=False),)), ()),
    ],
    ids=["primary key", "first NOT NULL unique key", "none"],
)  # fmt: skip
def test_key_columns(table: TableSchema, expected: tuple[str, ...]) -> None:
    ctx = build_table_context(table)
    assert ctx.key_columns == expected
    assert ctx.partition_columns == expected


def test_column_selection_keeps_table_order_and_projects() -> None:
    ctx = build_table_context(schema(), columns=["note", "id", "amount"])
    assert ctx.columns == ("id", "amount", "note")
    assert ctx.image_columns == NAMES
    assert ctx.select(ROW) == (7, Decimal("10.50"), None)
    assert orjson.dumps(ctx.render_image(ROW)) == b'{"id":7,"amount":10.50,"note":null}'
    assert orjson.dumps(ctx.render_image_fast(ROW)) == b'{"id":7,"amount":10.50,"note":null}'


def test_single_column_selection_projects_to_a_tuple() -> None:
    ctx = build_table_context(schema(), columns=["region"])
    assert ctx.select(ROW) == ("华东",)
    assert ctx.render_image(ROW) == {"region": "华东"}


def test_full_selection_does_not_copy_the_image() -> None:
    ctx = build_table_context(schema())
    assert ctx.select(ROW) is ROW


def test_narrow_images_carry_the_selection_and_the_key() -> None:
    ctx = build_table_context(schema(), columns=["amount"], image_columns=["amount", "id"])
    image = (7, Decimal("1.0"))
    assert ctx.image_columns == ("id", "amount")
    assert list(ctx.render_image(image)) == ["amount"]
    assert orjson.dumps(ctx.render_image(image)) == b'{"amount":1.0}'
    assert ctx.key_text(image) == "7"


def test_fast_and_full_rendering_agree() -> None:
    ctx = build_table_context(schema())
    assert orjson.dumps(ctx.render_image_fast(ROW)) == orjson.dumps(ctx.render_image(ROW))
    assert ctx.render_image(ROW)["flags"] == "BQ=="


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"columns": ["id", "nope"]}, "column 'nope' not in the table"),
        ({"columns": []}, "column selection is empty"),
        ({"shard_columns": ["zone"]}, "shard column 'zone' not in the table"),
        ({"image_columns": ["region"]}, "selected 'id', 'amount', 'note', 'flags' not in the images"),
        ({"columns": ["region"], "image_columns": ["region"]}, "key column 'id' not in the row images"),
        ({"columns": ["id"], "image_columns": ["id"], "shard_columns": ["region"]},
         "shard column 'region' not in the row images"),
    ],
)  # fmt: skip
def test_bad_selection_names_the_table(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(SchemaError, match=match) as raised:
        build_table_context(schema(), **kw)
    assert "shop.orders" in str(raised.value)


@pytest.mark.parametrize(
    ("kw", "key_text", "partition_text"),
    [
        ({}, "7", "7"),
        ({"shard_columns": ["region"]}, "7", "华东"),
        ({"shard_columns": ["note", "region"]}, "7", "\u0001华东"),
    ],
    ids=["row key", "shard column", "shard columns in given order, NULL empty"],
)
def test_key_and_partition_text(kw: dict[str, Any], key_text: str, partition_text: str) -> None:
    ctx = build_table_context(schema(), **kw)
    assert ctx.key_text(ROW) == key_text
    assert ctx.partition_text(ROW) == partition_text


def test_composite_key_text_and_no_key() -> None:
    ctx = build_table_context(schema(("id", "amount", "flags")))
    assert ctx.key_text(ROW) == "7\u000110.50\u0001BQ=="
    keyless = build_table_context(schema(()))
    assert keyless.key_text(ROW) is None
    assert keyless.partition_text(ROW) is None


@pytest.mark.parametrize(
    ("tenant", "db_type", "db_name"),
    [("t1", DbType.OB_MYSQL, "t1.shop"), (None, DbType.OB_MYSQL, "shop"), (None, "MYSQL", "shop")],
)
def test_source_identity(tenant: str | None, db_type: DbType, db_name: str) -> None:
    ctx = build_table_context(schema(), tenant=tenant, db_type=db_type, business_system_id="CIBS")
    assert ctx.db_name == db_name
    assert ctx.db_type is DbType(db_type)
    assert (ctx.database, ctx.table, ctx.business_system_id) == ("shop", "orders", "CIBS")


def test_odd_column_names_are_safe_in_the_compiled_renderer() -> None:
    names = ("a'b", 'c"d', "e\\f", "g\nh", "}); import os #")
    columns = tuple(
        Column(name=n, position=i, data_type="int", column_type="int") for i, n in enumerate(names, 1)
    )
    ctx = build_table_context(TableSchema(database="d", table="t", columns=columns))
    assert ctx.render_image((1, 2, 3, 4, 5)) == dict(zip(names, (1, 2, 3, 4, 5), strict=True))


def test_engine_modules_import_without_airflow() -> None:
    code = (
        "import sys; sys.modules['airflow'] = None\n"
        "import airflow_provider_obkafka.engine.changes.change, airflow_provider_obkafka.engine.changes.values\n"
        "import airflow_provider_obkafka.engine.serializers.default\n"
        "assert 'airflow' not in {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [("flags", 3.5, "bit column 'flags' cannot take 3.5"), ("amount", "ten", "decimal column 'amount'")],
)
def test_a_value_no_renderer_takes_names_the_column(column: str, value: Any, match: str) -> None:
    ctx = build_table_context(schema())
    image = tuple(value if name == column else item for name, item in zip(NAMES, ROW, strict=True))
    with pytest.raises(ValueError, match=f"table shop.orders: {match}"):
        ctx.render_image(image)


def test_row_change_init_keeps_the_dataclass_contract() -> None:
    """`RowChange.__init__` fills slots directly: same defaults, keywords, frozenness, replace()."""
    minimal = RowChange("db", "t", RecordType.INSERT, ("id",))
    assert (minimal.before, minimal.after, minimal.key_columns, minimal.sequence) == (None, None, (), None)
    by_keyword = RowChange(database="db", table="t", record_type=RecordType.DELETE, columns=("id",), before=(1,),
                           key_columns=("id",), sequence=4)  # fmt: skip
    assert by_keyword == RowChange("db", "t", RecordType.DELETE, ("id",), (1,), None, ("id",), None, None, None, 4)
    assert hash(by_keyword) == hash(dataclasses.replace(by_keyword))
    assert dataclasses.replace(by_keyword, sequence=5).sequence == 5 and by_keyword.sequence == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_keyword.sequence = 6  # type: ignore[misc]
    with pytest.raises(TypeError):
        RowChange("db", "t")  # type: ignore[call-arg]
