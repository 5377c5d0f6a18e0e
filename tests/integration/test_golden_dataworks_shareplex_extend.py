"""
Golden messages of DataWorks, SharePlex and DefaultExtendColumnType: full sync on seekdb, incremental on
MariaDB.

One table with every column type (the one of `test_full_sync_golden.py`) is created, filled, updated and
deleted from by the same SQL on both servers. On seekdb the real full-sync path (schema sync, plan, each
chunk) synchronizes the final table; on MariaDB the real incremental path
(`IncrementalSyncOperator.execute_complete` over the binlog range of the workload) synchronizes the changes.
The messages read back from Kafka are compared with `golden/<method>/{full_seekdb,incremental_mariadb}.json`,
which were reviewed by hand against the reference (oms-kafka-formats.md §3, §5, §7, §8) and docs/formats.md.

What changes from run to run is replaced by placeholders after it has been checked: the database name, the
write time (`systemTime`, `posttime`), the commit time, and the transaction ids (numbered in order of first
appearance). A `scn` or `storeDataSequence` is checked to start with its commit second and to differ from every
other message's, then written `<commit second>#<n>`, n its rank among the messages' sequences: strictly
increasing in commit order (T1's changes 1-4, T2's 5-6, T3's 7), whether or not the three transactions
committed in one second.
Regenerate with `OBKAFKA_REGENERATE_GOLDEN=1`, then read the diff critically.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_obkafka.engine.serializers.shareplex import utc_text
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.golden_helpers import binlog_transactions, check_golden, run_full_sync
from tests.integration.test_full_sync_golden import COLUMNS, CREATE_TABLE, GOLDEN_DIR, SERVERS, _parse, _rows

if TYPE_CHECKING:
    from datetime import timedelta

METHODS = {"DataWorks": "dataworks", "SharePlex": "shareplex", "DefaultExtendColumnType": "default_extend"}
BUSINESS_ID = "CIBS"
SERVER_ID = 4343
# After the four rows of test_full_sync_golden: T2 updates row 3 and moves row 4 to id 5, T3 deletes row 2.
UPDATES = [
    "UPDATE {db}.all_types SET c_varchar = '更新 ok', c_decimal = 0, c_json = '{{\"k\": 2}}' WHERE id = 3",
    "UPDATE {db}.all_types SET id = 5 WHERE id = 4",
]
DELETE = "DELETE FROM {db}.all_types WHERE id = 2"


def _workload(cur: Any, db: str, tz: timedelta) -> None:
    """T1 inserts the four rows, T2 updates row 3 and the key of row 4, T3 deletes row 2."""
    cur.execute(f"SET time_zone = '{int(tz.total_seconds() // 3600):+03d}:00'")
    for statements in (
        [f"INSERT INTO {db}.all_types ({COLUMNS}) VALUES {values}" for values in _rows(tz)],
        [sql.format(db=db) for sql in UPDATES],
        [DELETE.format(db=db)],
    ):
        cur.execute("BEGIN")
        for sql in statements:
            cur.execute(sql)
        cur.execute("COMMIT")


def _project(db: str, method: str, conn_id: str, sync: str) -> Any:
    return parse_project(
        {
            "name": f"{db}_{METHODS[method]}",
            "sync_types": ["schema", sync],
            "source": {"conn_id": conn_id},
            "options": {"serialization": method, "intra_transaction_sequence": True,
                        "business_system_id": BUSINESS_ID},
            "objects": [{"database": db, "tables": ["all_types"],
                         "topic": {"mode": "new", "name": f"{db}.{METHODS[method]}"}}],
        }
    )  # fmt: skip


def _read(db: str, method: str) -> list[dict[str, Any]]:
    """The topic's messages in (partition, offset) order, as {key, value}."""
    messages = KafkaHook().read_committed(f"{db}.{METHODS[method]}", timeout=60)
    ordered = sorted(messages, key=lambda m: (m.partition(), m.offset()))
    return [
        {"key": None if m.key() is None else m.key().decode(), "value": _parse(m.value())} for m in ordered
    ]


class Placeholders:
    """Stable names for values that change from run to run, numbered in order of first appearance."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}

    def __call__(self, kind: str, value: str | None) -> str | None:
        if value is None:
            return None
        return self.seen.setdefault((kind, value), f"<{kind} {1 + sum(k == kind for k, _ in self.seen)}>")


def _sequence(value: str | int | None, commit_second: int | None) -> int | None:
    """The sequence as a number, after checking that it starts with the commit second (`_rank_sequences`)."""
    if value is None:
        return None
    text = str(value)
    assert commit_second is not None
    assert text[:-5] == str(commit_second), (text, commit_second)
    return int(text)


SEQUENCE_FIELDS = {  # method -> (the object holding the sequence, its field)
    "DataWorks": (lambda value: value["payload"], "scn"),
    "SharePlex": (lambda value: value["meta"], "scn"),
    "DefaultExtendColumnType": (lambda value: value["allMetaData"], "storeDataSequence"),
}


def _rank_sequences(method: str, messages: list[dict[str, Any]]) -> None:
    """Each sequence number as `<commit second>#<rank among all>`; no two messages share one."""
    holder, field = SEQUENCE_FIELDS[method]
    numbers = [holder(m["value"])[field] for m in messages if holder(m["value"])[field] is not None]
    assert len(set(numbers)) == len(numbers), f"repeated sequence numbers: {sorted(numbers)}"
    rank = {number: n for n, number in enumerate(sorted(numbers), start=1)}
    for message in messages:
        found = holder(message["value"])
        if found[field] is not None:
            found[field] = f"<commit second>#{rank[found[field]]}"


def _normalize(method: str, message: dict[str, Any], db: str, started: float, names: Placeholders) -> None:
    """Check the run-dependent fields, then replace them with placeholders (in place)."""
    value, now_ms = message["value"], time.time() * 1000
    if method == "DataWorks":
        assert value["schema"]["source"]["dbName"] == db
        value["schema"]["source"]["dbName"] = "<db>"
        stamp = value["payload"]["timestamp"]
        assert started * 1000 - 1000 <= stamp["systemTime"] <= now_ms
        stamp["systemTime"] = "<write time>"
        second = stamp["checkpointTime"]
        if second is not None:
            assert stamp["eventTime"] // 1000 == second
            assert started - 120 <= second <= now_ms / 1000
            stamp["eventTime"], stamp["checkpointTime"] = "<commit ms>", "<commit second>"
        value["payload"]["scn"] = _sequence(value["payload"]["scn"], second)
    elif method == "SharePlex":
        meta = value["meta"]
        assert meta["table"] == f"{db}.all_types"
        assert meta["rowid"].startswith(f"{db}.all_types-")
        meta["table"], meta["rowid"] = "<db>.all_types", meta["rowid"].replace(db, "<db>", 1)
        assert utc_text(int(started) - 1) <= meta["posttime"] <= utc_text(int(now_ms / 1000))
        meta["posttime"] = "<write time>"
        second = None if meta["scn"] is None else int(meta["scn"][:-5])
        if second is not None:
            assert meta["time"] == utc_text(second)
            meta["time"] = "<commit time>"
        meta["scn"] = _sequence(meta["scn"], second)
        meta["trans"] = names("transaction", meta["trans"])
    else:
        meta = value["allMetaData"]
        assert meta["db"] == db
        meta["db"] = "<db>"
        second = None if meta["timestamp"] is None else int(meta["timestamp"])
        if second is not None:
            assert meta["checkpoint"] == meta["timestamp"]
            meta["checkpoint"] = meta["timestamp"] = "<commit second>"
        meta["storeDataSequence"] = _sequence(meta["storeDataSequence"], second)
        assert meta["uniqueId"] == meta["transId"]
        meta["uniqueId"] = meta["transId"] = names("transaction", meta["transId"])


def _end_of_workload(service: Any, db: str, start: BinlogPosition) -> BinlogPosition:
    """The position after the workload's last transaction on the table (other tests write to the same log)."""
    transactions = binlog_transactions(service, SERVER_ID, start, (db, "all_types"))
    assert [len(t.changes) for t in transactions] == [4, 2, 1]
    return transactions[-1].end


def _check_and_compare(
    method: str, name: str, messages: list[dict[str, Any]], db: str, started: float
) -> None:
    names = Placeholders()
    for message in messages:
        _normalize(method, message, db, started, names)
    _rank_sequences(method, messages)
    check_golden(GOLDEN_DIR / METHODS[method] / f"{name}.json", messages, f"{method} {name}")


@pytest.mark.parametrize("method", list(METHODS))
def test_full_sync_on_seekdb_matches_golden(method, airflow_conn_env, seekdb_conn, unique_name):
    spec, db = SERVERS["seekdb"], unique_name("gold_full")
    cur = seekdb_conn().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    try:
        cur.execute(CREATE_TABLE.format(db=db, other_charset=spec.other_charset))
        _workload(cur, db, spec.tz)
        started = time.time()
        project = _project(db, method, spec.conn_id, "full")
        run_full_sync(project, project.name)
        messages = _read(db, method)
    finally:
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    assert sorted(m["key"] for m in messages) == ["1", "3", "5"]
    _check_and_compare(method, "full_seekdb", messages, db, started)


@pytest.mark.parametrize("method", list(METHODS))
def test_incremental_on_mariadb_matches_golden(
    method, airflow_conn_env, mariadb_conn, mariadb_service, unique_name
):
    spec, db = SERVERS["mariadb"], unique_name("gold_inc")
    cur = mariadb_conn().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    try:
        cur.execute(CREATE_TABLE.format(db=db, other_charset=spec.other_charset))
        project = _project(db, method, spec.conn_id, "incremental")
        SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
        cur.execute("SHOW MASTER STATUS")
        file, position = cur.fetchone()[:2]
        start = BinlogPosition(file=file, position=position)
        started = time.time()
        _workload(cur, db, spec.tz)
        end = _end_of_workload(mariadb_service, db, start)
        event = {
            "status": "ready", "start": start.model_dump(mode="json"), "end": end.model_dump(mode="json"),
            "reached_end": True,
        }  # fmt: skip
        result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete(
            {}, event
        )
        assert result["changes"] == 7
        messages = _read(db, method)
    finally:
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    assert sorted(m["key"] for m in messages) == ["1", "2", "2", "3", "3", "4", "5"]
    _check_and_compare(method, "incremental_mariadb", messages, db, started)
