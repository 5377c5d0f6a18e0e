"""
Messages read back: a Kafka message value of a serialization method as the change it carries (`ParsedMessage`).

Covered methods: Default, DefaultExtendColumnType (Default with `__light_type` in each image) and Debezium. The
other methods (Canal, DataWorks, SharePlex) are not read back yet: `parser_for` names them in a ConfigError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from airflow_provider_obkafka.exceptions import ConfigError

__all__ = ["DETERMINISTIC", "Kind", "ParsedMessage", "Parser", "parse_debezium", "parse_default", "parser_for"]


class Kind:
    """What a message carries: a full-sync row, an incremental change, or a heartbeat."""

    ROW = "ROW"
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    HEARTBEAT = "HEARTBEAT"


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """
    One message's change.

    :param database: the database the message names (Default: `tenant.database` on OceanBase)
    :param table: the table the message names
    :param kind: a `Kind` value
    :param before: the before image (column: rendered value), or None
    :param after: the after image, or None
    :param row_key: the format's own text of the row key (Default `record_primary_value`), or None
    """

    database: str
    table: str
    kind: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    row_key: str | None = None


Parser = Callable[[bytes], ParsedMessage]


def _object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a {what} message: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a {what} message: the value is a JSON {type(data).__name__}, not an object")
    return data


def _image(data: Mapping[str, Any], name: str, what: str) -> dict[str, Any] | None:
    image = data.get(name)
    if image is not None and not isinstance(image, dict):
        raise ValueError(f"not a {what} message: {name} is not an object")
    return image


def parse_default(raw: bytes) -> ParsedMessage:
    """A Default (or DefaultExtendColumnType) message: `allMetaData`, `prevStruct`, `recordType`, `postStruct`."""
    data = _object(raw, "Default")
    meta = data.get("allMetaData")
    kind = data.get("recordType")
    if not isinstance(meta, dict) or kind not in (Kind.ROW, Kind.INSERT, Kind.UPDATE, Kind.DELETE, Kind.HEARTBEAT):
        raise ValueError("not a Default message: no allMetaData object or no known recordType")
    return ParsedMessage(
        str(meta.get("db")), str(meta.get("table_name")), kind,
        _image(data, "prevStruct", "Default"), _image(data, "postStruct", "Default"), meta.get("record_primary_value"),
    )  # fmt: skip


_DEBEZIUM_KINDS = {"u": Kind.UPDATE, "d": Kind.DELETE, "r": Kind.ROW, "HEARTBEAT": Kind.HEARTBEAT}


def parse_debezium(raw: bytes) -> ParsedMessage:
    """
    A Debezium change event (`{"payload": {op, before, source, after}}`). `op` `c` is a full-sync row when
    `source.pos` is empty (OMS writes `c` for both), an INSERT otherwise; `r` is a snapshot read.
    """
    payload = _object(raw, "Debezium").get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("source"), dict):
        raise ValueError("not a Debezium message: no payload object with a source")
    source, op = payload["source"], payload.get("op")
    if op == "c":
        kind = Kind.INSERT if source.get("pos") else Kind.ROW
    elif op in _DEBEZIUM_KINDS:
        kind = _DEBEZIUM_KINDS[op]
    else:
        raise ValueError(f"not a Debezium message: unknown op {op!r}")
    return ParsedMessage(
        str(source.get("db")), str(source.get("table")), kind,
        _image(payload, "before", "Debezium"), _image(payload, "after", "Debezium"),
    )  # fmt: skip


_PARSERS: dict[str, Parser] = {
    "Default": parse_default,
    "DefaultExtendColumnType": parse_default,
    "Debezium": parse_debezium,
}
DETERMINISTIC = frozenset({"Default", "DefaultExtendColumnType"})  # same row, same bytes: no clock in them


def parser_for(serialization: Any) -> Parser:
    """The parser of a serialization method (`options.serialization`); ConfigError for one not covered."""
    name = str(getattr(serialization, "value", serialization))
    found = _PARSERS.get(name)
    if found is None:
        raise ConfigError(
            f"options.serialization: {name!r} messages cannot be verified yet; verify reads back "
            f"{', '.join(_PARSERS)}. Verify a project in one of those, or check {name} topics by hand"
        )
    return found
