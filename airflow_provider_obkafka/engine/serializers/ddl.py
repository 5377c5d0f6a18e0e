"""
DDL messages, as OMS 4.1.1+ delivers them with DDL synchronization on (reference §2.6 and the DDL examples of
§4–§8): one message per statement and table, in the table's topic, with no Kafka key. TRUNCATE TABLE is a DDL
too. The Default, DefaultExtendColumnType, Canal, DataWorks and SharePlex shapes are the documented examples';
OMS documents no DDL for Debezium (§9.2, UNCONFIRMED): ours is the payload of a Debezium MySQL schema-change
event (`databaseName`, `ddl`, `source`, `ts_ms`) in the method's envelope. Kind names beyond the documented
`ALTER_TABLE` / `ALTER` are inferred (`CREATE_TABLE`, `DROP_TABLE`, `RENAME_TABLE`, `TRUNCATE_TABLE`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.serializers.shareplex import utc_text

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DdlEvent", "ddl_value"]


@dataclass(frozen=True, slots=True)
class DdlEvent:
    """
    One DDL statement on one in-scope table.

    :param database: the table's database (no tenant: the documented DDL examples carry none)
    :param table: the table's name (the old name of a rename)
    :param kind: ALTER, CREATE, DROP, RENAME or TRUNCATE
    :param statement: the statement as logged
    :param commit_ts_us: when it committed (µs since the epoch)
    :param db_type: `OB_MYSQL` or `MYSQL`
    :param position: where it is in the change log, `file@offset`
    """

    database: str
    table: str
    kind: str
    statement: str
    commit_ts_us: int
    db_type: str
    position: str


def _default(event: DdlEvent, now: float, extend: bool) -> dict[str, Any]:
    second = str(event.commit_ts_us // 1_000_000)
    post: dict[str, Any] = {"ddl": event.statement}
    if extend:
        post["__light_type"] = {"ddl": {"schemaType": "VAR_STRING"}}
    meta = {
        "checkpoint": second, "dbType": event.db_type, "storeDataSequence": None, "db": event.database,
        "timestamp": second, "uniqueId": None, "ddlType": f"{event.kind}_TABLE", "record_primary_key": None,
        "source_identity": None, "record_primary_value": None, "table_name": event.table,
    }  # fmt: skip
    return {"prevStruct": None, "postStruct": post, "allMetaData": meta, "recordType": "DDL"}


def _canal(event: DdlEvent, now: float) -> dict[str, Any]:
    return {
        "database": event.database, "sqlType": None, "data": None, "pkNames": None, "old": None, "mysqlType": None,
        "type": event.kind, "table": event.table, "es": event.commit_ts_us // 1000, "isDdl": True,
        "ts": int(now * 1000), "sql": event.statement,
    }  # fmt: skip


def _dataworks(event: DdlEvent, now: float) -> dict[str, Any]:
    source = {"dbType": event.db_type.lower(), "dbVersion": None, "dbName": event.database, "schema": None,
              "table": event.table}  # fmt: skip
    stamp = {"eventTime": event.commit_ts_us // 1000, "systemTime": int(now * 1000),
             "checkpointTime": event.commit_ts_us // 1_000_000}  # fmt: skip
    payload = {"before": None, "after": None, "op": event.kind, "timestamp": stamp,
               "ddl": {"text": event.statement}, "scn": "null"}  # fmt: skip
    return {"version": "2.0", "schema": {"source": source, "column": None, "pk": None}, "payload": payload,
            "extend": {}}  # fmt: skip


def _shareplex(event: DdlEvent, now: float) -> dict[str, Any]:
    name = f"{event.database}.{event.table}"
    meta = {"posttime": utc_text(int(now)), "op": "ddl", "size": 0, "time": utc_text(event.commit_ts_us // 1_000_000),
            "idx": "0/0", "seq": 0, "table": name, "rowid": f"{name}-", "trans": None, "scn": "null"}  # fmt: skip
    return {"data": {}, "meta": meta, "sql": {"ddl": event.statement}}


def _debezium(event: DdlEvent, now: float) -> dict[str, Any]:
    source = {"connector": event.db_type, "pos": event.position, "name": "OMS", "version": "",
              "ts_ms": event.commit_ts_us // 1000, "db": event.database, "table": event.table}  # fmt: skip
    return {"schema": None, "payload": {"source": source, "databaseName": event.database, "ddl": event.statement,
                                        "ts_ms": int(now * 1000)}}  # fmt: skip


_SHAPES: dict[str, Callable[[DdlEvent, float], dict[str, Any]]] = {
    "Default": lambda event, now: _default(event, now, False),
    "DefaultExtendColumnType": lambda event, now: _default(event, now, True),
    "Canal": _canal, "DataWorks": _dataworks, "SharePlex": _shareplex, "Debezium": _debezium,
}  # fmt: skip


def ddl_value(method: str, event: DdlEvent, now: float | None = None) -> bytes:
    """
    The Kafka value of `event` in serialization method `method` (its canonical name, `Serializer.name`).

    :raises KeyError: a method without a DDL shape
    """
    value = _SHAPES[method](event, time.time() if now is None else now)
    return orjson.dumps(value)
