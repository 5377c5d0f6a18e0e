"""Golden Canal and Debezium messages for a table holding every column type, from the real services.

Full synchronization runs on seekdb through the operators (schema sync, plan, each chunk), as
`test_full_sync_golden.py` does for Default, and the topic is read back. Incremental synchronization reads
MariaDB's binlog with `BinlogReader` after one transaction that inserts the rows and one that updates a row,
changes a primary key and deletes a row; each change goes through the serializer with the table context the
incremental operator builds. The messages are compared with `golden/<method>/`; the fields that differ from
run to run (database name, clocks, binlog positions, transaction ids) are checked, then replaced by
placeholders. The golden files hold what docs/formats.md (Canal, Debezium) prescribes; they were generated
once and then checked value by value against that page and the reference. Regenerate with
`OBKAFKA_REGENERATE_GOLDEN=1` and read the diff critically.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_obkafka.engine.changes.change import DbType
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.position import BinlogPosition
from tests.integration.golden_helpers import binlog_transactions, check_golden, run_full_sync
from tests.integration.test_full_sync_golden import COLUMNS, CREATE_TABLE, _parse, _rows

GOLDEN_DIR = Path(__file__).with_name("golden")
METHODS = ["Canal", "Debezium"]
CHANGES_SQL = [  # the second transaction: an update of several columns, a primary-key update, a delete
    "UPDATE {db}.all_types SET c_varchar = 'changed', c_int = 7, c_json = NULL, c_blob = X'00' WHERE id = 1",
    "UPDATE {db}.all_types SET id = 20 WHERE id = 2",
    "DELETE FROM {db}.all_types WHERE id = 3",
]
NOW_WINDOW_MS = 15 * 60 * 1000


def _recent(ms: int) -> bool:
    """An epoch-ms time within a few minutes of now (the commit time or the build time of this run)."""
    return abs(ms - time.time() * 1000) < NOW_WINDOW_MS


def _same_in_transaction(seen: dict[tuple[str, str], Any], label: str, field: str, value: Any) -> str:
    """`<field of T1>`: a per-run value, checked to be the same for every change of the transaction."""
    assert seen.setdefault((label, field), value) == value, f"{field} differs within {label}"
    return f"<{field} of {label}>"


def _normalize_canal(
    key: bytes | None, value: bytes, db: str, label: str | None, seen: dict[tuple[str, str], Any]
) -> dict[str, Any]:
    """A Canal message with the run's database, clocks and commit second replaced by placeholders."""
    message = _parse(value)
    assert message["database"] == db
    assert _recent(message["ts"])
    assert _recent(message["es"])
    if label is not None:  # incremental: id = {commit second}{sequence:05d}, es = the commit time
        assert message["id"] // 100000 == message["es"] // 1000
        assert message["es"] % 1000 == 0  # MariaDB commit times are whole seconds
        message["id"] = f"<commit second of {label}>{message['id'] % 100000:05d}"
        message["es"] = _same_in_transaction(seen, label, "commit ms", message["es"])
    else:  # full sync: es is the read time
        assert message["es"] == message["ts"]
        message["es"] = "<ts>"
    message["database"], message["ts"] = "<db>", "<ts>"
    return {"key": None if key is None else key.decode(), "value": message}


def _normalize_debezium(
    key: bytes | None, value: bytes, db: str, label: str | None, seen: dict[tuple[str, str], Any]
) -> dict[str, Any]:
    """A Debezium event with the run's database, clocks, positions and transaction ids as placeholders."""
    event = _parse(value)
    payload, source = event["payload"], event["payload"]["source"]
    assert source["db"] == db
    assert _recent(payload["ts_ms"])
    assert _recent(source["ts_ms"])
    payload["ts_ms"], source["db"] = "<ts>", "<db>"
    if label is not None:  # incremental: pos = the transaction's start as file@offset
        file, _, offset = source["pos"].rpartition("@")
        assert file
        assert offset.isdigit()
        source["pos"] = _same_in_transaction(seen, label, "pos", source["pos"])
        source["ts_ms"] = _same_in_transaction(seen, label, "commit ms", source["ts_ms"])
        payload["transaction"]["id"] = _same_in_transaction(seen, label, "id", payload["transaction"]["id"])
    else:  # full sync: no position, ts_ms is the read time
        assert source["pos"] == ""
        source["ts_ms"] = "<ts>"
    return {"key": None if key is None else _parse(key), "value": event}


NORMALIZE = {"Canal": _normalize_canal, "Debezium": _normalize_debezium}


# --- full synchronization on seekdb -------------------------------------------------------------------------
def _full_sync(db: str, method: str, table: str = "all_types") -> list[Any]:
    """Schema sync, plan and every chunk of a one-table project in `method`; the topic's messages."""
    topic = f"{db}.{table}"
    project = parse_project(
        {"name": f"{db}_{method.lower()}", "sync_types": ["schema", "full"],
         "source": {"conn_id": "oceanbase_default"}, "options": {"serialization": method},
         "objects": [{"database": db, "tables": [table], "topic": {"mode": "new", "name": topic}}]}
    )  # fmt: skip
    run_full_sync(project, db)
    return KafkaHook().read_committed(topic, timeout=60)


@pytest.mark.parametrize("method", METHODS)
def test_full_sync_seekdb(method, airflow_conn_env, seekdb_database):
    db, conn = seekdb_database
    with conn.cursor() as cur:
        cur.execute(CREATE_TABLE.format(db=db, other_charset="utf8mb4"))
        cur.execute("SET time_zone = '+08:00'")
        for values in _rows(timedelta(hours=8)):
            cur.execute(f"INSERT INTO {db}.all_types ({COLUMNS}) VALUES {values}")
    got = [NORMALIZE[method](m.key(), m.value(), db, None, {}) for m in _full_sync(db, method)]
    row_id = (
        (lambda m: m["value"]["data"][0]["id"])
        if method == "Canal"
        else (lambda m: m["key"]["payload"]["id"])
    )
    got.sort(key=row_id)
    assert [row_id(m) for m in got] == [1, 2, 3, 4]
    if method == "Canal":  # Canal's `data` is Default's `postStruct`, value for value
        default = _parse((GOLDEN_DIR / "full_default_seekdb.json").read_bytes())
        assert [m["value"]["data"][0] for m in got] == [m["value"]["postStruct"] for m in default]
        assert {m["value"]["type"] for m in got} == {"INSERT"}
    else:
        assert {m["value"]["payload"]["op"] for m in got} == {"c"}
    check_golden(GOLDEN_DIR / method.lower() / "full_seekdb.json", got, method)


def test_exact_numbers_on_the_wire(airflow_conn_env, seekdb_database):
    """DECIMAL: an exact JSON number in Canal, a string with every digit in Debezium; never a float."""
    db, conn = seekdb_database
    with conn.cursor() as cur:
        for table in ("dec_canal", "dec_debezium"):
            cur.execute(f"CREATE TABLE {db}.{table} (id INT PRIMARY KEY, c_decimal DECIMAL(30,10))")
            cur.execute(f"INSERT INTO {db}.{table} VALUES (1, 12345678901234567890.1234567890)")
    (canal,) = _full_sync(db, "Canal", "dec_canal")
    assert b'"c_decimal":12345678901234567890.1234567890}' in canal.value()
    (debezium,) = _full_sync(db, "Debezium", "dec_debezium")
    assert b'"c_decimal":"12345678901234567890.1234567890"}' in debezium.value()


# --- incremental synchronization from MariaDB's binlog -----------------------------------------------------
def _binlog_changes(db: str, conn: Any, service: Any) -> list[Any]:
    """Create and fill the table, then change it in two transactions; the row changes the binlog holds."""
    with conn.cursor() as cur:
        cur.execute(CREATE_TABLE.format(db=db, other_charset="latin1"))
        cur.execute("SHOW MASTER STATUS")
        file, pos = cur.fetchone()[:2]
        cur.execute("SET time_zone = '+03:00'")
        cur.execute("BEGIN")
        for values in _rows(timedelta(hours=3)):
            cur.execute(f"INSERT INTO {db}.all_types ({COLUMNS}) VALUES {values}")
        cur.execute("COMMIT")
        cur.execute("BEGIN")
        for statement in CHANGES_SQL:
            cur.execute(statement.format(db=db))
        cur.execute("COMMIT")
    server_id = 7000 + int(uuid.uuid4().hex[:3], 16)  # not shared with another reader running now
    start = BinlogPosition(file=file, position=pos)
    transactions = binlog_transactions(service, server_id, start, (db, "all_types"))
    assert [len(t.changes) for t in transactions] == [4, 3]
    return [change for t in transactions for change in t.changes]


@pytest.mark.parametrize("method", METHODS)
def test_incremental_mariadb(method, airflow_conn_env, mariadb_database, mariadb_service):
    db, conn = mariadb_database
    changes = _binlog_changes(db, conn, mariadb_service)
    schema = OceanBaseHook(ob_conn_id="mariadb_binlog").describe_table(db, "all_types")
    ctx = build_table_context(schema, image_columns=changes[0].columns, db_type=DbType.MYSQL)
    serializer = serializer_for(method, intra_transaction_sequence=True)
    labels = {txn: f"T{n}" for n, txn in enumerate(dict.fromkeys(c.transaction_id for c in changes), start=1)}
    seen: dict[tuple[str, str], Any] = {}
    got = [
        NORMALIZE[method](
            serializer.key(c, ctx), serializer.value(c, ctx), db, labels[c.transaction_id], seen
        )
        for c in changes
    ]
    if method == "Canal":
        assert [m["value"]["type"] for m in got] == ["INSERT"] * 4 + ["UPDATE", "UPDATE", "DELETE"]
        assert got[5]["value"]["old"] == [{"id": 2}]
        assert got[5]["key"] == "20"
    else:
        assert [m["value"]["payload"]["op"] for m in got] == ["c"] * 4 + ["u", "u", "d"]
        assert [m["value"]["payload"]["transaction"]["total_order"] for m in got] == [1, 2, 3, 4, 1, 2, 3]
    check_golden(GOLDEN_DIR / method.lower() / "incremental_mariadb.json", got, method)


def test_full_and_incremental_rows_agree():
    """
    The same rows, read by SELECT on seekdb and from MariaDB's binlog, give the same images. Except c_json:
    MariaDB's JSON is LONGTEXT and keeps the text as written (`2.50`, key order), seekdb normalizes it.
    """
    for method, image in (("canal", _canal_image), ("debezium", _debezium_image)):
        full = _parse((GOLDEN_DIR / method / "full_seekdb.json").read_bytes())
        inserts = _parse((GOLDEN_DIR / method / "incremental_mariadb.json").read_bytes())[:4]
        for row_full, row_binlog in zip(full, inserts, strict=True):
            left, right = image(row_full), image(row_binlog)
            left.pop("c_json")
            right.pop("c_json")
            assert left == right, f"{method} id {left['id']}"


def _canal_image(message: dict[str, Any]) -> dict[str, Any]:
    return dict(message["value"]["data"][0])


def _debezium_image(message: dict[str, Any]) -> dict[str, Any]:
    return dict(message["value"]["payload"]["after"])


def test_decimal_golden_values_are_exact():
    """The golden files keep DECIMAL digits exactly (parsed as exact text, never through a float)."""
    full = _parse((GOLDEN_DIR / "canal" / "full_seekdb.json").read_bytes())
    assert str(full[1]["value"]["data"][0]["c_decimal"]) == "12345678901234567890.1234567890"
    debezium = json.loads((GOLDEN_DIR / "debezium" / "full_seekdb.json").read_text(), parse_float=Decimal)
    assert debezium[1]["value"]["payload"]["after"]["c_decimal"] == "12345678901234567890.1234567890"
