"""
Serializers: a row change to Kafka key and value bytes, one per OMS serialization method.

Every method but Debezium shares the Kafka key (`kafka_key`) through the base class `SharedKeySerializer`
(`ClockedSerializer` adds a write-time clock in epoch seconds). `serializer_for(method)` finds a method by its
OMS UI or API name, in any case; each method's module is imported only when first asked for, so formats plug
in by adding one entry to `_METHODS`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.serializers.sequence import change_sequence
from airflow_provider_obkafka.exceptions import ConfigError

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.changes.change import TableContext

__all__ = [
    "ClockedSerializer",
    "Record",
    "SortSequence",
    "Serializer",
    "SharedKeySerializer",
    "kafka_key",
    "record_function",
    "register_serializer",
    "serializer_for",
]


Record: TypeAlias = Callable[[RowChange], tuple[bytes | None, bytes]]  # a change -> (Kafka key, value)
SortSequence: TypeAlias = Callable[[RowChange], int | None]  # a change -> its sort sequence (`sequence.py`)


class Serializer(Protocol):
    """Turns a row change of a table into the Kafka record key and value."""

    name: str

    def key(self, change: RowChange, ctx: TableContext) -> bytes | None:
        """The Kafka record key; None for a record without one."""
        ...

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The Kafka record value."""
        ...


def record_function(serializer: Serializer, ctx: TableContext) -> Record:
    """
    change -> (Kafka key, value) for the changes of `ctx`'s table, what the loops that produce change after
    change call: the serializer's compiled function when it has one (`compile_record(ctx, general)`, which
    hands what it does not cover to `general`), else its `key` and `value`.
    """
    key, value = serializer.key, serializer.value

    def general(change: RowChange) -> tuple[bytes | None, bytes]:
        return key(change, ctx), value(change, ctx)

    compile_record = getattr(serializer, "compile_record", None)
    return general if compile_record is None else compile_record(ctx, general)


def kafka_key(change: RowChange, ctx: TableContext) -> bytes | None:
    """
    The Kafka key of every format: the partition columns' values (shard columns, else the row key) as text,
    joined with U+0001, UTF-8; the same text as `record_primary_value` when there are no shard columns. Taken
    from the after image, else the before image. None for a heartbeat and for a table without key columns;
    where records without a key go is the partitioning rule's choice (`engine.routing.partitioning`).
    """
    if change.record_type is RecordType.HEARTBEAT:
        return None
    image = change.after if change.after is not None else change.before
    text = None if image is None else ctx.partition_text(image)
    return None if text is None else text.encode()


class SharedKeySerializer:
    """
    Base of the methods whose Kafka key is the shared `kafka_key`; a subclass sets `name` and writes `value`.

    :param intra_transaction_sequence: OMS "Enable Intra-Transaction Sequence"; every method takes it (one
        factory signature), each subclass says what it does with it
    :param sequence: the sort sequence of a change (`storeDataSequence`, Canal `id`, `scn`): the incremental
        stream's `StoreSequence.number`; by default each change's own `store_data_sequence`
    """

    name: str

    def __init__(
        self, *, intra_transaction_sequence: bool = False, sequence: SortSequence | None = None
    ) -> None:
        self.intra_transaction_sequence = intra_transaction_sequence
        self.sequence: SortSequence = change_sequence if sequence is None else sequence

    def key(self, change: RowChange, ctx: TableContext) -> bytes | None:
        """The shared Kafka key: partition column values joined with U+0001."""
        return kafka_key(change, ctx)


class ClockedSerializer(SharedKeySerializer):
    """
    A `SharedKeySerializer` whose messages carry the time they are written.

    :param intra_transaction_sequence: as in `SharedKeySerializer`
    :param sequence: as in `SharedKeySerializer`
    :param clock: seconds since the epoch (tests pass a fixed one)
    """

    def __init__(
        self, *, intra_transaction_sequence: bool = False, sequence: SortSequence | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        super().__init__(intra_transaction_sequence=intra_transaction_sequence, sequence=sequence)
        self._clock = clock


# Canonical name (the OMS UI name) -> "module:factory"; a factory takes the keyword options of serializer_for.
_METHODS: dict[str, str] = {
    "Default": "airflow_provider_obkafka.engine.serializers.default:DefaultSerializer",
    "Canal": "airflow_provider_obkafka.engine.serializers.canal:CanalSerializer",
    "Debezium": "airflow_provider_obkafka.engine.serializers.debezium:DebeziumSerializer",
    "DataWorks": "airflow_provider_obkafka.engine.serializers.dataworks:DataWorksSerializer",
    "SharePlex": "airflow_provider_obkafka.engine.serializers.shareplex:SharePlexSerializer",
    "DefaultExtendColumnType": (
        "airflow_provider_obkafka.engine.serializers.default_extend:DefaultExtendColumnTypeSerializer"
    ),
}
_FACTORIES: dict[str, Callable[..., Serializer]] = {}
# Every name OMS uses for a method (UI, API `mqSerializerType`, V4.0.0 `json.serializer`) -> canonical name.
_ALIASES = {
    alias.casefold(): name
    for name, aliases in {
        "Default": ("Default", "DEFAULT", "DefaultJsonSerializer"),
        "DefaultExtendColumnType": ("DefaultExtendColumnType", "DEFAULT_WITH_SCHEMA"),
        "Canal": ("Canal", "CANAL", "CanalJsonSerializer"),
        "DataWorks": ("DataWorks", "Dataworks 2.0", "DataWorks (2.0)", "DATAWORKS_V2"),
        "SharePlex": ("SharePlex", "SHAREPLEX", "ShareplexJsonSerializer"),
        "Debezium": ("Debezium", "DEBEZIUM"),
    }.items()
    for alias in aliases
}


def register_serializer(name: str, factory: Callable[..., Serializer], *aliases: str) -> None:
    """Make `factory` the serializer of method `name` (and of `aliases`), replacing any earlier one."""
    for alias in (name, *aliases):
        _ALIASES[alias.casefold()] = name
    _FACTORIES[name] = factory


def _factory(name: str) -> Callable[..., Serializer] | None:
    if name not in _FACTORIES and name in _METHODS:
        module, _, attribute = _METHODS[name].partition(":")
        _FACTORIES[name] = getattr(importlib.import_module(module), attribute)
    return _FACTORIES.get(name)


def serializer_for(
    method: str, *, intra_transaction_sequence: bool = False, sequence: SortSequence | None = None
) -> Serializer:
    """
    The serializer of an OMS serialization method.

    :param method: UI or API name in any case (`Default`, `DEFAULT`, `Canal`, `DATAWORKS_V2`, ...)
    :param intra_transaction_sequence: OMS "Enable Intra-Transaction Sequence" (used by SharePlex)
    :param sequence: the sort sequence of the incremental stream (`sequence.StoreSequence.number`); None:
        each change's own (a factory then gets no `sequence` argument)
    """
    name = _ALIASES.get(str(getattr(method, "value", method)).strip().casefold())
    factory = _factory(name) if name else None
    if factory is None:
        ready = ", ".join(sorted(set(_METHODS) | set(_FACTORIES)))
        what = f"is not implemented yet ({name})" if name else "is not an OMS serialization method"
        raise ConfigError(f"serialization method {method!r} {what}; available: {ready}")
    extra = {} if sequence is None else {"sequence": sequence}
    return factory(intra_transaction_sequence=intra_transaction_sequence, **extra)
