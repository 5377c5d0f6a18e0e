"""
What every serialization method keeps, tested on every registered method (a new method gets these tests by
being registered): missing images are errors, unusual Python types give the same message, a bad value names
its column, heartbeats and keyless tables have no key, the shared Kafka key, the OMS names and the registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from airflow_provider_obkafka.engine import serializers
from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.serializers import (
    SharedKeySerializer,
    kafka_key,
    register_serializer,
    serializer_for,
)
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.exceptions import ConfigError
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

# The methods whose Kafka key is the shared `kafka_key` (Debezium writes its own: test_debezium_serializer).
SHARED_KEY = [m for m in METHODS if isinstance(serializer_for(m), SharedKeySerializer)]
# Methods with value rules of their own, not the Default family's: their errors name no column kind.
OWN_VALUE_RULES = {"Debezium"}
# Methods that have no field for "Enable Intra-Transaction Sequence": the option changes no byte.
WITHOUT_SEQUENCE_FIELD = ["Canal", "DataWorks", "Default", "DefaultExtendColumnType"]
# Every name OMS gives each method (UI, API `mqSerializerType`, V4.0.0 `json.serializer`), in odd spellings.
OMS_NAMES = {
    "Default": ["Default", "DEFAULT", " default ", "DefaultJsonSerializer"],
    "Canal": ["Canal", "CANAL", " canal ", "CanalJsonSerializer"],
    "Debezium": ["Debezium", "DEBEZIUM", " debezium "],
    "DataWorks": ["DataWorks", "DATAWORKS_V2", "dataworks (2.0)", "Dataworks 2.0"],
    "SharePlex": ["SharePlex", "SHAREPLEX", "ShareplexJsonSerializer"],
    "DefaultExtendColumnType": ["DefaultExtendColumnType", "DEFAULT_WITH_SCHEMA", "defaultextendcolumntype"],
}
MISSING = [  # kind, the images the change has, the image the error names
    (INSERT, {"before": ROW}, "after"), (UPDATE, {"after": ROW}, "before"),
    (UPDATE, {"before": ROW}, "after"), (DELETE, {"after": ROW}, "before"), (DELETE, {}, "before"),
    (ROW_TYPE, {}, "after"),
]  # fmt: skip
WHEN = datetime(2020, 1, 2, 3, 4, 5)
KEY_CASES = [
    ("single", ("a",), {}, INSERT, None, (3, "x", None), b"3"),
    ("composite", ("a", "b"), {}, INSERT, None, (3, "华", None), "3\u0001华".encode()),
    ("no key", (), {}, INSERT, None, (3, "x", None), None),
    ("shard columns", ("a",), {"shard_columns": ["c", "b"]}, ROW_TYPE, None, (3, "x", WHEN),
     b"2020-01-02 03:04:05\x01x"),
    ("shard column of a composite key", ("a", "b"), {"shard_columns": ["b"]}, INSERT, None, (3, "华", None),
     "华".encode()),
    ("shard column NULL", ("a",), {"shard_columns": ["c"]}, INSERT, None, (3, "x", None), b""),
    ("delete uses before", ("a",), {}, DELETE, (4, "x", None), None, b"4"),
    ("update uses after", ("a",), {}, UPDATE, (4, "x", None), (5, "x", None), b"5"),
]  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kind", "images", "missing"), MISSING)
def test_missing_image_is_an_error(
    method: str, kind: RecordType, images: dict[str, Any], missing: str
) -> None:
    ctx = all_types_context()
    with pytest.raises(ValueError, match=f"^{kind.value} change of app.all_types has no {missing} image$"):
        fixed(method).value(change(kind, ctx, **images), ctx)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ["ROW of ROW", "ROW of UPDATED", "UPDATE"])
def test_unusual_python_types_fall_back_to_full_rendering(method: str, case: str) -> None:
    ctx, serializer = all_types_context(), fixed(method)
    if case == "UPDATE":
        usual = change(UPDATE, ctx, before=ROW, after=UPDATED, sequence=1)
        odd = change(UPDATE, ctx, before=with_unusual_types(ctx, ROW), after=with_unusual_types(ctx, UPDATED),
                     sequence=1)  # fmt: skip
    else:
        row = ROW if case == "ROW of ROW" else UPDATED
        usual, odd = (change(ROW_TYPE, ctx, after=image) for image in (row, with_unusual_types(ctx, row)))
    assert serializer.value(odd, ctx) == serializer.value(usual, ctx)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("row", [ROW, UPDATED], ids=["ROW", "UPDATED"])
def test_a_value_no_renderer_accepts_names_the_column(method: str, row: tuple[Any, ...]) -> None:
    ctx = all_types_context()
    bad = list(row)
    bad[ctx.image_columns.index("c_blob")] = 12345
    kind = "" if method in OWN_VALUE_RULES else "binary "
    with pytest.raises(ValueError, match=f"^table app.all_types: {kind}column 'c_blob' cannot take 12345"):
        fixed(method).value(change(ROW_TYPE, ctx, after=tuple(bad)), ctx)


@pytest.mark.parametrize("method", METHODS)
def test_heartbeat_has_a_value_and_no_key(method: str) -> None:
    ctx = all_types_context()
    heartbeat = change(HEARTBEAT, ctx)
    assert fixed(method).value(heartbeat, ctx)
    assert fixed(method).key(heartbeat, ctx) is None


@pytest.mark.parametrize("method", METHODS)
def test_table_without_key_has_no_kafka_key(method: str) -> None:
    ctx = key_table(())
    for kind, before, after in ((INSERT, None, (3, "x", None)), (DELETE, (3, "x", None), None)):
        row_change = RowChange("d", "t", kind, ctx.image_columns, before, after, (), COMMIT_US)
        assert fixed(method).key(row_change, ctx) is None, kind


@pytest.mark.parametrize("method", SHARED_KEY)
@pytest.mark.parametrize(
    ("pk", "kw", "kind", "before", "after", "key"), [c[1:] for c in KEY_CASES], ids=[c[0] for c in KEY_CASES]
)
def test_shared_kafka_key(
    method: str, pk: tuple[str, ...], kw: dict[str, Any], kind: RecordType, before: Any, after: Any,
    key: bytes | None,
) -> None:  # fmt: skip
    """The partition columns' values (shard columns, else the row key) joined with U+0001, UTF-8."""
    ctx = key_table(pk, **kw)
    row_change = RowChange("d", "t", kind, ctx.image_columns, before, after, ctx.key_columns, COMMIT_US)
    assert kafka_key(row_change, ctx) == key
    assert fixed(method).key(row_change, ctx) == key


@pytest.mark.parametrize("method", WITHOUT_SEQUENCE_FIELD)
def test_intra_transaction_sequence_option_changes_nothing(method: str) -> None:
    ctx = all_types_context()
    for kind, row_change in transaction_changes(ctx).items():
        numbered = fixed(method, intra_transaction_sequence=True).value(row_change, ctx)
        assert numbered == fixed(method).value(row_change, ctx), kind


@pytest.mark.parametrize(
    ("method", "name"), [(method, name) for method, names in OMS_NAMES.items() for name in names]
)
def test_serializer_for_oms_names(method: str, name: str) -> None:
    found = serializer_for(name, intra_transaction_sequence=True)
    assert type(found) is type(fixed(method))
    assert (found.name, found.intra_transaction_sequence) == (method, True)


def test_every_method_has_its_oms_names_listed() -> None:
    assert sorted(OMS_NAMES) == METHODS
    assert len({type(fixed(method)) for method in METHODS}) == len(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_serializer_for_any_case_and_defaults(method: str) -> None:
    for name in (method, method.upper(), f" {method.lower()} "):
        found = serializer_for(name)
        assert (found.name, found.intra_transaction_sequence) == (method, False), name


def test_serializer_for_unknown() -> None:
    with pytest.raises(ConfigError, match="is not an OMS serialization method; available: .*Default"):
        serializer_for("Avro")


def test_register_serializer() -> None:
    register_serializer("SharePlex", lambda **_: DefaultSerializer(), "SHAREPLEX")
    try:
        assert isinstance(serializer_for("shareplex"), DefaultSerializer)
    finally:
        serializers._FACTORIES.pop("SharePlex")
    assert serializer_for("shareplex").name == "SharePlex"  # the built-in method again
