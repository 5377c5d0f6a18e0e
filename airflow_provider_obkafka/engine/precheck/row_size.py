"""
The largest row a table can hold, from its column types, against the message size limits a Kafka message of
it must pass: the producer's `message.max.bytes`, each broker's `message.max.bytes` and the topic's
`max.message.bytes`. A row over them fails its task for good when it comes; the precheck says so first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_obkafka.engine.precheck.report import Check, Finding, ok, warn

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_obkafka.models.schema import Column

#: librdkafka's default `message.max.bytes`, the producer's limit when the connection sets none.
PRODUCER_DEFAULT_MAX = 1_000_000
UNBOUNDED = 4_294_967_295  # LONGBLOB, LONGTEXT, JSON, spatial types: up to 4 GiB
_CHARSET_BYTES = {"utf8mb4": 4, "utf8": 3, "utf8mb3": 3, "binary": 1, "latin1": 1, "ascii": 1, "gbk": 2,
                  "gb18030": 4}  # fmt: skip
_TEXT_WIDTH = {"tinyint": 4, "smallint": 6, "mediumint": 8, "int": 11, "integer": 11, "bigint": 20, "float": 24,
               "double": 24, "real": 24, "date": 10, "datetime": 26, "timestamp": 26, "time": 16,
               "year": 4}  # fmt: skip


def column_max_bytes(column: Column) -> int:
    """The most bytes one value of the column can take (as text for numbers and times)."""
    kind = column.data_type.lower()
    if kind in _TEXT_WIDTH:
        return _TEXT_WIDTH[kind]
    if kind in ("decimal", "numeric", "bit"):
        return (column.precision or 65) + 2
    if kind in ("char", "varchar"):
        return (column.length or 0) * _CHARSET_BYTES.get((column.charset or "utf8mb4").lower(), 4)
    if kind == "enum":
        return 4 * max((len(member) for member in column.enum_values), default=0)
    if kind == "set":
        return 4 * sum(len(member) + 1 for member in column.enum_values)
    if column.length:  # binary, varbinary, the BLOB and TEXT types: their length is in bytes
        return column.length
    return UNBOUNDED


class RowLimits(NamedTuple):
    """
    The message size limits, each with what sets it.

    :param producer: the producer's `message.max.bytes`
    :param broker: `(broker id, message.max.bytes)` of the strictest broker, or None when unread
    :param topics: each topic's `max.message.bytes` (a topic not created yet: the brokers' default)
    """

    producer: int
    broker: tuple[int, int] | None
    topics: dict[str, int]


def row_size_findings(tables: Iterable[tuple[str, str, Iterable[Column]]], limits: RowLimits) -> list[Finding]:
    """One finding per `(table, topic, synchronized columns)`: WARN when an UPDATE of its largest row can
    outgrow a limit (its message holds two images), OK otherwise."""
    out = []
    for table, topic, columns in tables:
        row = sum(column_max_bytes(column) for column in columns)
        named = [f"the producer's message.max.bytes {limits.producer}"]
        if limits.broker is not None:
            named.append(f"broker {limits.broker[0]}'s message.max.bytes {limits.broker[1]}")
        if topic in limits.topics:
            named.append(f"topic {topic}'s max.message.bytes {limits.topics[topic]}")
        smallest = min([limits.producer, *([limits.broker[1]] if limits.broker else []),
                        *([limits.topics[topic]] if topic in limits.topics else [])])  # fmt: skip
        found = f"{table}: largest possible row {row} bytes of values, {2 * row} in an UPDATE (two images); " + (
            ", ".join(named)
        )
        if 2 * row <= smallest:
            out.append(ok(Check.ROW_SIZE, found))
            continue
        out.append(warn(Check.ROW_SIZE, found,
                        f"a row over {smallest} bytes fails its task for good when it comes (oversize_rows: fail, the "
                        "default): leave the widest "
                        "columns out (objects[].columns or table_settings), or raise max.message.bytes on topic "
                        f"{topic}, message.max.bytes on the brokers and in the Kafka connection's extras (the "
                        f"producer) to at least {2 * row} bytes, if the rows are really that large; or set "
                        "oversize_rows: skip or dead_letter for the table"))  # fmt: skip
    return out
