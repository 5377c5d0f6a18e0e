"""The obbinlog test double checked independently: mysql-replication's reader, raw dumps, a workload.

The workload runs once on MariaDB (the double's source) and crosses several rotations at the double's small
file size. What must come back is what the workload did, shaped as obbinlog shapes it (one row per rows event,
a GTID per transaction with a strictly increasing µs commit time), plus the dump behaviours of
``devservices/obbinlog/dumper.py``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
from decimal import Decimal

import pymysql
import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import GtidEvent, QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

import devservices
from tests.integration import obbinlog_helpers as oh

ROWS, PER_INSERT, BLOB = 300, 5, 700
FAKE_ROTATE_FLAGS, ROTATE, FDE, HEARTBEAT, GTID = 0x20, 4, 15, 27, 33


def _row(i: int) -> tuple:
    return (i, Decimal(f"{i}.{i % 1000:03d}"), dt.datetime(2024, 1, 1, 0, 0, 0, i * 7), f"é✓{i}🙂",
            (chr(0x41 + i % 26) + "ü").encode() * (BLOB // 3), None if i % 3 == 0 else i)  # fmt: skip


def _status(port: int) -> tuple[str, int, str]:
    conn = oh.connect(port)
    with conn.cursor() as cur:
        cur.execute("SHOW MASTER STATUS")
        file, pos, _a, _b, gtids = cur.fetchone()
    conn.close()
    return file, int(pos), gtids


def _gno(gtids: str) -> int:
    return int(gtids.rsplit("-", 1)[1]) if gtids else 0


def _wait_gno(port: int, gno: int, timeout: float = 60) -> tuple[str, int, str]:
    deadline = time.monotonic() + timeout
    while True:
        status = _status(port)
        if _gno(status[2]) >= gno or time.monotonic() > deadline:
            assert _gno(status[2]) == gno, f"the double has {status[2]}, expected up to {gno}"
            return status
        time.sleep(0.2)


@pytest.fixture(scope="module")
def workload(mariadb_service, obbinlog_service):
    """Run the workload once; return where it starts and ends on the double and what it changed."""
    db = f"obbd_{int(time.time())}"
    start = _status(obbinlog_service.port)
    conn = pymysql.connect(host=mariadb_service.host, port=mariadb_service.port, user="root", password="",
                           autocommit=True, charset="utf8mb4")  # fmt: skip
    expected, trx = [], 0
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, d DECIMAL(12,3), ts DATETIME(6), "
                    "s VARCHAR(50) CHARACTER SET utf8mb4, b BLOB, n INT NULL)")  # fmt: skip
        trx += 2
        for first in range(1, ROWS + 1, PER_INSERT):
            rows = [_row(i) for i in range(first, first + PER_INSERT)]
            cur.executemany(f"INSERT INTO {db}.t VALUES (%s, %s, %s, %s, %s, %s)", rows)
            expected += [("insert", r) for r in rows]
            trx += 1
        cur.execute(f"UPDATE {db}.t SET n = -1 WHERE id <= 10")
        expected += [("update", (_row(i), _row(i)[:5] + (-1,))) for i in range(1, 11)]
        cur.execute(f"DELETE FROM {db}.t WHERE id > {ROWS - 10}")
        expected += [("delete", _row(i)) for i in range(ROWS - 9, ROWS + 1)]
        cur.execute(f"ALTER TABLE {db}.t ADD COLUMN x INT NULL")
        trx += 3
    conn.close()
    end = _wait_gno(obbinlog_service.port, _gno(start[2]) + trx)
    return {"db": db, "start": start, "end": end, "expected": expected, "trx": trx}


def _read_all(obbinlog_service, mariadb_service, start, end):
    """Every event from ``start`` to ``end`` as mysql-replication decodes it (a blocking dump)."""
    reader = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": obbinlog_service.port, "user": "root"},
        ctl_connection_settings={"host": "127.0.0.1", "port": mariadb_service.port, "user": "root"},
        server_id=91, blocking=True, resume_stream=True, log_file=start[0], log_pos=start[1],
        slave_heartbeat=1,
    )  # fmt: skip
    out, deadline = [], time.monotonic() + 60
    try:
        for event in reader:
            out.append(event)
            if (reader.log_file, reader.log_pos) == (end[0], end[1]) or time.monotonic() > deadline:
                break
    finally:
        reader.close()
    return out


def _norm(values: dict) -> tuple:
    """Values in column order. Without TABLE_MAP charset metadata (obbinlog writes none) mysql-replication
    cannot tell a BLOB from a TEXT and decodes both as UTF-8 text: that is why the workload's BLOBs hold
    UTF-8 bytes, and why they are encoded back here."""
    return tuple(v.encode() if isinstance(v, str) and i == 4 else v for i, v in enumerate(values.values()))


def test_library_decodes_exactly_the_workload(workload, obbinlog_service, mariadb_service):
    """Same rows in the same order, one per rows event, GTIDs per transaction, commit times increasing."""
    events = _read_all(obbinlog_service, mariadb_service, workload["start"], workload["end"])
    got, gtids, stamps, rotations = [], [], [], 0
    for e in events:
        if isinstance(e, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)) and e.schema == workload["db"]:
            assert len(e.rows) == 1, "obbinlog writes one row per rows event"
            row = e.rows[0]
            if isinstance(e, UpdateRowsEvent):
                got.append(("update", (_norm(row["before_values"]), _norm(row["after_values"]))))
            else:
                got.append(("insert" if isinstance(e, WriteRowsEvent) else "delete", _norm(row["values"])))
        elif isinstance(e, GtidEvent):
            gtids.append(e.gtid)
            stamps.append(e.last_committed * 1_000_000 + e.sequence_number)
        elif isinstance(e, RotateEvent) and e.packet.timestamp != 0:
            rotations += 1
    assert got == workload["expected"]
    assert len(gtids) == workload["trx"]
    assert stamps == sorted(set(stamps)), "commit times must be strictly increasing"
    assert rotations >= 3
    ddl = [e.query for e in events if isinstance(e, QueryEvent) and e.query != "BEGIN"]
    assert any("ADD COLUMN x" in q for q in ddl)
    assert sum(isinstance(e, XidEvent) for e in events) == workload["trx"] - 3  # DDLs have no XID


def test_non_blocking_dump_sends_one_file_then_eof(workload, obbinlog_service):
    """Flags exactly 1: fake ROTATE (ts 0, 0x20), FORMAT_DESCRIPTION, that file's events, a heartbeat, EOF."""
    first = workload["start"][0]
    conn = oh.connect(obbinlog_service.port, master_binlog_checksum="CRC32")
    oh.dump(conn, first, 4, flags=1)
    got = list(oh.packets(conn))
    conn.close()
    heads = [oh.header(raw) for kind, raw in got if kind == "event"]
    assert got[-1][0] == "eof"
    assert heads[0][0] == 0
    assert heads[0][1] == ROTATE
    assert heads[0][5] == FAKE_ROTATE_FLAGS
    assert heads[0][4] == 0
    assert heads[1][1] == FDE
    real_rotates = [h for h in heads[2:] if h[1] == ROTATE]
    assert len(real_rotates) == 1
    assert heads[-1][1] == HEARTBEAT
    assert heads[-2][1] == ROTATE
    assert workload["end"][0] != first, "later files exist, yet the dump stopped after one"


def test_blocking_dump_crosses_rotations_then_heartbeats(workload, obbinlog_service):
    """Any other flags: across files (a fake ROTATE each), then only heartbeats while nothing is written."""
    conn = oh.connect(
        obbinlog_service.port, master_binlog_checksum="CRC32", master_heartbeat_period=200_000_000
    )
    oh.dump(conn, workload["start"][0], 4, flags=0)
    fakes, idle, last_ts = 0, [], None
    for _kind, raw in oh.packets(conn):
        ts, etype, _sid, _len, pos, flags = oh.header(raw)
        fakes += etype == ROTATE and flags == FAKE_ROTATE_FLAGS
        if etype == HEARTBEAT and pos == workload["end"][1]:
            idle.append((time.monotonic(), ts))
            if len(idle) == 4:
                break
        elif etype != HEARTBEAT:
            assert not idle, "no event may follow while MariaDB is idle"
            last_ts = ts
    conn.close()
    assert fakes >= 4
    assert all(ts == last_ts for _t, ts in idle), "a heartbeat carries the last event's timestamp"
    assert 0.1 < (idle[-1][0] - idle[1][0]) / 2 < 1.0, "heartbeats follow @master_heartbeat_period"


def test_gtid_dump_starts_in_the_older_file(workload, obbinlog_service):
    """COM_BINLOG_DUMP_GTID: the newest file whose PREVIOUS_GTIDS is in the client's set, set skipped."""
    uuid, ends = (
        workload["end"][2].split(":")[0],
        oh.previous_gtids_end(obbinlog_service.port, workload["start"][0]),
    )
    have = _gno(workload["start"][2]) + 5
    while have + 1 in ends.values():  # one short of a file's set: the off-by-one case, the next test's
        have += 1
    expected_file = max(name for name, end in ends.items() if end <= have)
    assert expected_file < workload["end"][0], "the set ends in an older file than the newest"
    assert oh.first_of_gtid_dump(obbinlog_service.port, uuid, have) == (expected_file, have + 1)


def test_gtid_dump_keeps_obbinlogs_off_by_one(workload, obbinlog_service):
    """A set ending one short of a file's PREVIOUS_GTIDS selects that file (closed vs half-open interval in
    ``is_subset_executed_gtid``): the missing transaction, in the file before, is not sent."""
    uuid, ends = (
        workload["end"][2].split(":")[0],
        oh.previous_gtids_end(obbinlog_service.port, workload["start"][0]),
    )
    name, end = next((n, e) for n, e in sorted(ends.items()) if e > _gno(workload["start"][2]))
    assert oh.first_of_gtid_dump(obbinlog_service.port, uuid, end - 1) == (name, end + 1)


def test_sql_answers(workload, obbinlog_service):
    """SHOW BINARY LOGS / MASTER STATUS / SELECT @@ / errors as obbinlog answers them."""
    conn = oh.connect(obbinlog_service.port)
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        logs = cur.fetchall()
        cur.execute("SELECT @@server_uuid")
        assert cur.fetchone()[0] == workload["end"][2].split(":")[0]
        cur.execute("SHOW GLOBAL VARIABLES LIKE 'binlog_checksum'")
        assert cur.fetchall() == (("binlog_checksum", "CRC32"),)
        cur.execute("THIS IS NOT SQL")  # obbinlog answers OK to what it cannot parse
    assert [name for name, _ in logs] == sorted(name for name, _ in logs)
    assert logs[-1][0] == workload["end"][0]
    assert logs[-1][1] >= workload["end"][1]
    oh.dump(conn, logs[-1][0], logs[-1][1] + 1000, flags=1)
    with pytest.raises(pymysql.err.OperationalError, match="position > file size") as err:
        list(oh.packets(conn))
    assert err.value.args[0] == 1236


def test_mariadb_binlog_reads_the_files(workload, obbinlog_service):
    """Debian's mariadb-binlog decodes the files: the workload's rows; MySQL GTID events as ignorable."""
    tool = shutil.which("mariadb-binlog") or shutil.which("mysqlbinlog")
    assert tool, "mariadb-binlog is installed with the MariaDB server (scripts/install-system-deps.sh)"
    names = [
        n
        for n in oh.previous_gtids_end(obbinlog_service.port, workload["start"][0])
        if workload["start"][0] <= n <= workload["end"][0]
    ]
    data_dir = devservices.info("obbinlog").data_dir
    paths = [f"{data_dir}/data/{n}" for n in names]
    # the files hold every table of the shared MariaDB: other tests' binary values print as raw bytes
    out = subprocess.run([tool, "-vv", *paths], capture_output=True, check=True).stdout.decode("utf-8", "replace")
    db = workload["db"]
    counts = {kind: out.count(f"### {kind} `{db}`.`t`") for kind in ("INSERT INTO", "UPDATE", "DELETE FROM")}
    assert counts == {"INSERT INTO": ROWS, "UPDATE": 10, "DELETE FROM": 10}
    assert out.count("# Ignorable event type 33 (MySQL Gtid)") >= workload["trx"]


def test_restart_mid_stream_has_no_gap_or_duplicate(workload, mariadb_service, obbinlog_service):
    """Stop the double, write while it is down, start it again: every transaction once, GTIDs contiguous."""
    before = _status(obbinlog_service.port)
    conn = pymysql.connect(host=mariadb_service.host, port=mariadb_service.port, user="root", password="",
                           autocommit=True)  # fmt: skip
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {workload['db']}.t (id) VALUES (1001)")
        devservices.stop(["obbinlog"])
        for i in range(1002, 1006):
            cur.execute(f"INSERT INTO {workload['db']}.t (id) VALUES ({i})")
        info = devservices.ensure_running(["obbinlog"])["obbinlog"]
        assert info.port == obbinlog_service.port
        cur.execute(f"INSERT INTO {workload['db']}.t (id) VALUES (1006)")
    conn.close()
    end = _wait_gno(obbinlog_service.port, _gno(before[2]) + 6)
    events = _read_all(obbinlog_service, mariadb_service, before, end)
    ids = [e.rows[0]["values"]["UNKNOWN_COL0"] for e in events if isinstance(e, WriteRowsEvent)]
    gnos = [int(e.gtid.rsplit(":", 1)[1]) for e in events if isinstance(e, GtidEvent)]
    assert ids == list(range(1001, 1007))
    assert gnos == list(range(_gno(before[2]) + 1, _gno(before[2]) + 7))


def test_purged_file_gives_obbinlogs_error(workload, obbinlog_service):
    """PURGE BINARY LOGS TO 'f' removes f too; a dump from it is 1236 as in check_start_file."""
    first = workload["start"][0]
    conn = oh.connect(obbinlog_service.port)
    with conn.cursor() as cur:
        cur.execute(f"PURGE BINARY LOGS TO '{first}'")
        cur.execute("SHOW BINARY LOGS")
        assert first not in [name for name, _ in cur.fetchall()]
    oh.dump(conn, first, 4, flags=1)
    with pytest.raises(pymysql.err.OperationalError, match="Could not find first log file name") as err:
        list(oh.packets(conn))
    assert err.value.args[0] == 1236
