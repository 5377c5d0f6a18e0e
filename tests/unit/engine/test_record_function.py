"""
`record_function`: the (Kafka key, value) of a change in one call, what the producing loops use. For every
method it must give exactly `key()` and `value()`; Default's is compiled per table (`default_record`), and
what its body does not cover (heartbeat, missing image, no commit time, unusual or rejected values) must
come out of the general path unchanged, errors included.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType, RowChange
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import record_function
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.models.schema import Column, TableSchema
from tests.unit.engine.serializer_cases import (
    COMMIT_US,
    DELETE,
    HEARTBEAT,
    INSERT,
    METHODS,
    ROW,
    ROW_TYPE,
    UPDATE,
    UPDATED,
    all_types_context,
    change,
    fixed,
    key_table,
    transaction_changes,
    with_unusual_types,
)

CONTEXTS = {  # every-type table options that change what the record holds
    "plain": {},
    "business system id": {"business_system_id": "crm"},
    "shard columns": {"shard_columns": ["c_varchar", "c_datetime"]},
    "column selection": {"columns": ["id", "c_decimal", "c_varchar", "c_json"]},
    "source identity, MySQL": {"source_identity": "store-1", "db_type": DbType.MYSQL, "tenant": None},
}
KEYS = {  # d.t(a int, b varchar, c datetime) keys
    "composite key": (("a", "b"), {}),
    "no key": ((), {}),
    "no key, shard column": ((), {"shard_columns": ["b"]}),
    "shard column of a composite key": (("a", "b"), {"shard_columns": ["c"]}),
}


def _both(method: str, ctx: Any, row_change: RowChange) -> tuple[bytes | None, bytes]:
    serializer = fixed(method)
    return serializer.key(row_change, ctx), serializer.value(row_change, ctx)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("options", CONTEXTS.values(), ids=CONTEXTS.keys())
def test_every_method_gives_key_and_value(method: str, options: dict[str, Any]) -> None:
    ctx = all_types_context(**options)
    record = record_function(fixed(method), ctx)
    cases = {
        **transaction_changes(ctx),
        "INSERT without sequence": change(INSERT, ctx, after=ROW),
        "ROW without checkpoint": change(ROW_TYPE, ctx, after=UPDATED, checkpoint=None),
    }
    for name, row_change in cases.items():
        assert record(row_change) == _both(method, ctx, row_change), name


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("pk", "options"), KEYS.values(), ids=KEYS.keys())
def test_keys_of_every_shape(method: str, pk: tuple[str, ...], options: dict[str, Any]) -> None:
    ctx = key_table(pk, **options)
    record = record_function(fixed(method), ctx)
    images = [(None, (3, "华", None)), ((4, None, None), (5, "x", None)), ((6, "y", None), None)]
    for kind, (before, after) in zip((INSERT, UPDATE, DELETE), images, strict=True):
        row_change = RowChange("d", "t", kind, ctx.image_columns, before, after, ctx.key_columns, COMMIT_US,
                               "f:4", "tx", 1)  # fmt: skip
        assert record(row_change) == _both(method, ctx, row_change), kind


def _refusing(row_change: RowChange) -> tuple[bytes | None, bytes]:
    raise AssertionError(f"the general path was asked for a covered {row_change.record_type} change")


def test_default_is_compiled_and_covers_the_usual_changes() -> None:
    ctx = all_types_context(business_system_id="crm")
    record = DefaultSerializer().compile_record(ctx, _refusing)
    assert record.__code__.co_filename == "<default record app.all_types>"
    for name, row_change in transaction_changes(ctx).items():
        assert record(row_change) == _both("Default", ctx, row_change), name


@pytest.mark.parametrize(
    ("case", "images"),
    [("heartbeat", {}), ("INSERT without after", {"before": ROW}), ("DELETE without before", {"after": ROW}),
     ("UPDATE without before", {"after": UPDATED}), ("INSERT without commit time", {"after": ROW})],
)  # fmt: skip
def test_default_hands_what_it_does_not_cover_to_the_general_path(case: str, images: dict[str, Any]) -> None:
    ctx = all_types_context()
    kind = {"heartbeat": HEARTBEAT, "INSERT": INSERT, "DELETE": DELETE, "UPDATE": UPDATE}[case.split()[0]]
    extra = {"commit_ts_us": None} if "commit time" in case else {}
    row_change = change(kind, ctx, **images, **extra)
    asked: list[RowChange] = []

    def general(seen: RowChange) -> tuple[bytes | None, bytes]:
        asked.append(seen)
        return b"k", b"general"

    assert DefaultSerializer().compile_record(ctx, general)(row_change) == (b"k", b"general")
    assert asked == [row_change]


def test_default_missing_image_error_is_the_general_one() -> None:
    ctx = all_types_context()
    record = record_function(DefaultSerializer(), ctx)
    with pytest.raises(ValueError, match="^DELETE change of app.all_types has no before image$") as caught:
        record(change(DELETE, ctx, after=ROW))
    assert caught.value.__context__ is None  # raised by the general path, not inside the compiled handler


def test_default_unusual_types_and_rejected_values() -> None:
    ctx = all_types_context()
    record = record_function(DefaultSerializer(), ctx)
    odd = change(UPDATE, ctx, before=with_unusual_types(ctx, ROW), after=with_unusual_types(ctx, UPDATED))
    assert record(odd) == _both("Default", ctx, odd)
    bad = list(ROW)
    bad[ctx.image_columns.index("c_blob")] = 12345
    with pytest.raises(ValueError, match="^table app.all_types: binary column 'c_blob' cannot take 12345"):
        record(change(INSERT, ctx, after=tuple(bad)))


def test_default_any_column_name_is_safe() -> None:
    names = ["id", "a'b%s", 'q"uote', "new\nline", "back\\slash", "{brace}%%"]
    columns = tuple(
        Column(name=name, position=i, data_type="int" if i == 1 else "varchar", column_type="x",
               nullable=i != 1, charset="utf8mb4")
        for i, name in enumerate(names, start=1)
    )  # fmt: skip
    schema = TableSchema(database="d'b%d", table='t"1%', columns=columns, primary_key=("id", "a'b%s"))
    ctx = build_table_context(schema, shard_columns=["new\nline"])
    row_change = RowChange("d'b%d", 't"1%', INSERT, ctx.image_columns, None, (1, "x", "y", "z", "w", "v"),
                           ctx.key_columns, COMMIT_US, "f:4", "tx", 2)  # fmt: skip
    record = DefaultSerializer().compile_record(ctx, _refusing)
    assert record(row_change) == _both("Default", ctx, row_change)
