"""
The reference's own example messages for Canal (§6.2) and Debezium (§9.2) against ours.

Every example is read from `oms-kafka-formats.md` (shared/reference, beside the checkout) at test time. For
each, the change it shows goes through our serializer (with the example's clock, commit time and log
position), and our message must have every documented key with the same JSON value type, and the same
values except where the reference says the example is a fixture artefact (§12 item 3: Canal `mysqlType`
`int64`, the UPDATE `old` key `string`, the DELETE `pkNames` `int8/int16`) or elided (`…`, `"..."`, `****`).
Canal's UPDATE and DELETE are documented as the INSERT plus listed changes (§6.2); they are built that way.
DDL examples (V4.1.1+) are not compared: no DDL is delivered (reference §2.6, baseline V4.0.0/V4.1.0).
Ours may add keys: Canal `id` (upstream Canal's field, docs/formats.md, section Canal).
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.serializers.canal import CanalSerializer
from airflow_provider_obkafka.engine.serializers.debezium import DebeziumSerializer
from tests.unit.engine.oms_reference import examples, parse_exact, reference_table, same_shape


def same_value(documented: Any, ours: Any, where: str) -> None:
    """Equal, but for elisions (`…` keeps the text around it, `****` masks digits); floats as floats."""
    if isinstance(documented, str) and "…" in documented:
        head, _, tail = documented.partition("…")
        assert ours.startswith(head) and ours.endswith(tail), where  # noqa: PT018
    elif isinstance(documented, str) and "****" in documented:
        assert re.fullmatch(re.escape(documented).replace(r"\*\*\*\*", r"\d{4}"), ours), where
    elif isinstance(documented, Decimal) and isinstance(ours, Decimal):
        assert float(ours) == float(documented), where
    else:
        assert ours == documented, where


# --- Canal (§6.2) ---------------------------------------------------------------------------------------
CANAL_TYPES = {
    "col1": "datetime", "col2": "varchar(32)", "col3": "float", "col4": "double", "col5": "smallint",
    "col6": "time", "col7": "int", "col8": "bigint", "col9": "blob", "col10": "tinyint", "col11": "date",
    "col12": "decimal(65,30)", "col13": "bigint unsigned", "col14": "timestamp",
}  # fmt: skip
CANAL_ARTEFACTS = {("mysqlType", "col8")}  # §6.1: the doc prints `int64` for a BIGINT column
TIMESTAMP_UTC = datetime(2020, 11, 24, 16, 1, 2, 12345)  # "1606233662.012345" as a +00:00 session reads it


def canal_row(data: dict[str, Any]) -> tuple[Any, ...]:
    """The documented `data[0]` as pymysql hands it over."""
    return (
        datetime.fromisoformat(data["col1"]), data["col2"], float(data["col3"]), float(data["col4"]),
        data["col5"],
        timedelta(minutes=1, seconds=2), data["col7"], data["col8"], b"hello world", data["col10"],
        date.fromisoformat(data["col11"]), data["col12"], data["col13"], TIMESTAMP_UTC,
    )  # fmt: skip


def canal_examples() -> dict[str, dict[str, Any]]:
    """INSERT as printed, UPDATE and DELETE as §6.2 describes them (artefact keys corrected: `old` col2)."""
    insert = examples(6)[0]
    assert insert["type"] == "INSERT"
    update = copy.deepcopy(insert)
    update["data"][0]["col2"] = "hello world 2020"
    update.update({"old": [{"col2": "hello world"}], "type": "UPDATE", "ts": 1618364572908})
    delete = copy.deepcopy(insert)
    delete.update({"old": None, "type": "DELETE", "ts": 1618364660278})
    return {"INSERT": insert, "UPDATE": update, "DELETE": delete}


@pytest.mark.parametrize("kind", ["INSERT", "UPDATE", "DELETE"])
def test_canal_examples(kind: str) -> None:
    documented = canal_examples()[kind]
    key = tuple(documented["pkNames"])
    ctx = reference_table(documented["database"], documented["table"], CANAL_TYPES, key)
    row = canal_row(documented["data"][0])
    before = canal_row(canal_examples()["INSERT"]["data"][0]) if kind != "INSERT" else None
    change = RowChange(documented["database"], documented["table"], RecordType(kind), ctx.image_columns,
                       before, None if kind == "DELETE" else row, ctx.key_columns,
                       documented["es"] * 1000, "mysql-bin.000001:4", "tx", 1)  # fmt: skip
    serializer = CanalSerializer(clock=lambda: documented["ts"])
    ours = parse_exact(serializer.value(change, ctx))
    same_shape(documented, ours)
    assert set(ours) - set(documented) == {"id"}
    for key, value in documented.items():
        if isinstance(value, dict):
            for column, item in value.items():
                if (key, column) not in CANAL_ARTEFACTS:
                    same_value(item, ours[key][column], f"{key}.{column}")
        elif key == "data":
            for column, item in value[0].items():
                same_value(item, ours["data"][0][column], f"data.{column}")
        else:
            same_value(value, ours[key], key)
    assert ours["mysqlType"]["col8"] == "bigint"


def test_canal_ddl_example_is_found_but_not_delivered() -> None:
    ddl = examples(6)[1]
    assert (ddl["isDdl"], ddl["type"]) == (True, "ALTER")


# --- Debezium (§9.2) ------------------------------------------------------------------------------------
DEBEZIUM_TYPES = {
    "c01": "int", "c02": "varchar(10)", "c03": "decimal(10,5)", "c04": "bit(8)", "c05": "tinyint",
    "c06": "smallint", "c07": "mediumint", "c08": "bigint", "c09": "float", "c10": "double", "c11": "char(2)",
    "c12": "varchar(2)", "c13": "text", "c14": "tinytext", "c15": "binary(1)", "c16": "varchar(2)",
    "c17": "varbinary(2)", "c18": "blob", "c19": "binary(255)", "c20": "tinyblob", "c21": "timestamp",
    "c22": "date", "c23": "time", "c24": "datetime", "c25": "year", "c26": "longblob",
}  # fmt: skip
BYTES = {"c04", "c15", "c17", "c18", "c19", "c20", "c26"}


def debezium_row(image: dict[str, Any], fill: dict[str, Any]) -> tuple[Any, ...]:
    """The documented image as the binlog reader hands it over; elided columns taken from `fill`."""
    values = {**fill, **{k: v for k, v in image.items() if k != "..."}}
    row = []
    for name in DEBEZIUM_TYPES:
        value = values[name]
        if name in BYTES:
            value = bytes.fromhex(
                value.partition("…")[0].rstrip("0") or "00"
            )  # the binlog strips BINARY padding
        elif name in ("c09", "c10"):
            value = float(value)
        elif name == "c03":
            value = Decimal(value)
        elif name == "c21":
            value = datetime.fromisoformat(value.rstrip("Z"))
        elif name == "c22":
            value = date(1970, 1, 1) + timedelta(days=value)
        elif name == "c23":
            value = timedelta(microseconds=value)
        elif name == "c24":
            value = datetime(1970, 1, 1) + timedelta(milliseconds=value)
        row.append(value)
    return tuple(row)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_debezium_examples(index: int) -> None:
    documented = examples(9)[index]
    assert list(documented) == ["payload"]  # no `schema` section by default
    doc = documented["payload"]
    source = doc["source"]
    kind = {"c": RecordType.INSERT, "u": RecordType.UPDATE, "d": RecordType.DELETE}[doc["op"]]
    fill = examples(9)[0]["payload"]["after"]  # the INSERT's full row fills the elided columns
    before = debezium_row(doc["before"], fill) if "before" in doc else None
    after = debezium_row(doc["after"], fill) if "after" in doc else None
    ctx = reference_table(source["db"], source["table"], DEBEZIUM_TYPES, ("c01",))
    offset, _, position = source["pos"].replace("****", "0000").partition("@")  # the doc masks 4 digits
    change = RowChange(source["db"], source["table"], kind, ctx.image_columns, before, after, ctx.key_columns,
                       source["ts_ms"] * 1000, f"{offset}:{position}", "tx", 1)  # fmt: skip
    ours = parse_exact(DebeziumSerializer(clock=lambda: doc["ts_ms"]).value(change, ctx))
    same_shape(documented, ours)
    assert list(ours) == ["payload"]
    assert list(ours["payload"]) == list(doc)  # the same keys, in the same order
    assert list(ours["payload"]["source"]) == list(source)
    for key in ("op", "ts_ms"):
        assert ours["payload"][key] == doc[key]
    for key, value in source.items():
        same_value(value, ours["payload"]["source"][key], f"source.{key}")
    for image in ("before", "after"):
        for column, value in doc.get(image, {}).items():
            if column != "...":
                same_value(value, ours["payload"][image][column], f"{image}.{column}")
    assert len(ours["payload"].get("after", ours["payload"].get("before"))["c19"]) == 510
