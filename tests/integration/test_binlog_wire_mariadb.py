"""
The binlog stream read off the wire (`engine/binlog/wire.py`, `engine/binlog/reader.py`) on MariaDB; reading by GTID
set on each source. The other tests stay on MariaDB: they use its session checksum setting, FLUSH BINARY LOGS, its
BINLOG_GTID_POS() and a 17 MiB row; the obbinlog double's checksums, rotations, heartbeats and GTID sets are
checked on raw packets in test_obbinlog_double.py and through the product in the test_incremental_* files.
"""

from __future__ import annotations

import threading
import time

import pymysql
import pytest

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.transactions import Commit, Transaction
from airflow_provider_obkafka.engine.binlog.wire import DumpStream
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.exceptions import ConfigError, UnsupportedEventError
from airflow_provider_obkafka.models.position import BinlogPosition
from tests.integration.private_services import private_mariadb  # noqa: F401 (a fixture)

SERVER_ID = 4747


def _settings(service) -> dict:
    return {"host": service.host, "port": service.port, "user": "root", "password": "", "charset": "utf8mb4"}


def _position(cur) -> BinlogPosition:
    cur.execute("SHOW MASTER STATUS")
    file, pos = cur.fetchone()[:2]
    return BinlogPosition(file=file, position=pos)


def _transactions(service, start, tables, **kwargs) -> list[Transaction]:
    with BinlogReader(_settings(service), SERVER_ID, start, tables, **kwargs) as reader:
        return [item for item in reader.read_transactions() if isinstance(item, Transaction)]


def _images(transactions) -> list:
    return [(c.table, c.record_type, c.before, c.after) for t in transactions for c in t.changes]


@pytest.fixture
def table(mariadb_database):
    name, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name}.t (id INT PRIMARY KEY, v VARCHAR(40), b LONGBLOB)")
    return name, conn


def test_checksums_follow_each_file_whatever_the_session_asked(table, mariadb_service):
    """Asked for no checksum, the server still sends the file's CRC32 (as obbinlog does): read the same."""
    name, conn = table
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL VARIABLES LIKE 'binlog_checksum'")
        assert cur.fetchone()[1] == "CRC32"
        start = _position(cur)
        for i in range(3):
            cur.execute(f"INSERT INTO {name}.t VALUES ({i}, 'v{i}', NULL)")
        cur.execute(f"UPDATE {name}.t SET v = 'x' WHERE id = 1")
    asked = _transactions(mariadb_service, start, {(name, "t")})
    not_asked = _transactions(mariadb_service, start, {(name, "t")}, checksum=False)
    assert len(asked) == 4 and _images(asked) == _images(not_asked)
    assert [t.end for t in asked] == [t.end for t in not_asked]


def test_rotation_and_an_event_split_over_packets(table, mariadb_service):
    """Reading on across FLUSH BINARY LOGS, and a 17 MiB row: one event sent as two packets."""
    name, conn = table
    big = bytes(range(256)) * (17 * 4096)  # 17 MiB
    with conn.cursor() as cur:
        cur.execute("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
    fresh = pymysql.connect(**_settings(mariadb_service), autocommit=True, max_allowed_packet=64 * 1024 * 1024)
    with fresh.cursor() as cur:
        start = _position(cur)
        cur.execute(f"INSERT INTO {name}.t VALUES (1, 'before', NULL)")
        cur.execute("FLUSH BINARY LOGS")
        cur.execute(f"INSERT INTO {name}.t VALUES (2, 'big', %s)", (big,))
        cur.execute(f"INSERT INTO {name}.t VALUES (3, 'after', NULL)")
    fresh.close()
    found = _transactions(mariadb_service, start, {(name, "t")})
    assert [c.after[:2] for t in found for c in t.changes] == [(1, "before"), (2, "big"), (3, "after")]
    assert found[1].changes[0].after[2] == big
    assert found[0].end.file == start.file and found[1].end.file != start.file
    again = _transactions(mariadb_service, found[0].end, {(name, "t")})
    assert [c.after[0] for t in again for c in t.changes] == [2, 3]


@pytest.mark.parametrize("corrupt", ["rows event", "repeated TABLE_MAP"])
def test_a_corrupt_event_fails_its_checksum(table, mariadb_service, monkeypatch, corrupt):
    """
    One byte changed in a rows event's row data, or in the database name of a TABLE_MAP that repeats an
    earlier one (so its bytes no longer match it): the CRC32 check stops the read, nothing of it is yielded.
    """
    name, conn = table
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS obkafka_test_other")
        cur.execute("CREATE TABLE IF NOT EXISTS obkafka_test_other.t (id INT AUTO_INCREMENT PRIMARY KEY)")
        start = _position(cur)
        cur.execute(f"INSERT INTO {name}.t VALUES (1, 'abcdefgh', NULL)")
        cur.execute("INSERT INTO obkafka_test_other.t VALUES ()")  # another writer's TABLE_MAP, as in CI
        cur.execute(f"INSERT INTO {name}.t VALUES (2, 'ijklmnop', NULL)")
    stream = DumpStream(_settings(mariadb_service), SERVER_ID, start)
    packets = list(stream.packets())
    if corrupt == "rows event":
        found, marker = [i for i, data in enumerate(packets) if data[5] in (23, 30) and b"abcdefgh" in data], b"abcdefgh"
    else:
        ours = [i for i, data in enumerate(packets) if data[5] == 19 and name.encode() in data]  # others write too
        found, marker = ours[1:], name.encode()
    assert len(found) == 1 and stream.checksum
    good = packets[found[0]]
    at = good.index(marker)
    packets[found[0]] = good[:at] + b"X" + good[at + 1 :]

    class Replay:
        checksum, is_mariadb = True, True

        def packets(self):
            return iter(packets)

        def close(self):
            pass

    def replay(self):
        self._stream = Replay()
        self._parsers(is_mariadb=True, checksum=True)
        return self._stream

    monkeypatch.setattr(BinlogReader, "_open", replay)
    seen = []
    with pytest.raises(UnsupportedEventError, match="fails its CRC32 check"):
        with BinlogReader(_settings(mariadb_service), SERVER_ID, start, {(name, "t")}) as reader:
            seen.extend(item for item in reader.iter_changes() if isinstance(item, RowChange))
    assert [change.after[0] for change in seen] == ([] if corrupt == "rows event" else [1])  # up to the bad one


@pytest.fixture
def quiet_table(private_mariadb, unique_name):
    """A table on a PRIVATE MariaDB: no other test writes to its log, which stays idle between our writes."""
    info = private_mariadb.info
    conn = pymysql.connect(host=info.host, port=info.port, user="root", autocommit=True)
    name = unique_name("db")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
        cur.execute(f"CREATE TABLE {name}.t (id INT PRIMARY KEY, v VARCHAR(40), b LONGBLOB)")
    yield name, conn, info
    conn.close()


def test_heartbeats_are_counted_and_never_move_the_position(quiet_table):
    """A blocking reader on an idle log gets heartbeats; the position moves only at the commit. (The server
    sends heartbeats only while its log is idle: on the shared MariaDB, other tests' writes kept it busy.)"""
    name, conn, service = quiet_table
    with conn.cursor() as cur:
        start = _position(cur)

    def write_later() -> None:
        time.sleep(1.5)
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {name}.t VALUES (7, 'late', NULL)")

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        with BinlogReader(_settings(service), SERVER_ID, start, {(name, "t")}, blocking=True,
                          heartbeat_s=0.2) as reader:  # fmt: skip
            for item in reader.iter_changes():
                if isinstance(item, RowChange):
                    assert reader.heartbeats >= 2 and reader.position == start
                    assert item.after[:2] == (7, "late")
                if isinstance(item, Commit):
                    assert item.start == start and reader.position == item.end
                    break
    finally:
        writer.join()


def _gtid_at(cur, position: BinlogPosition) -> str:
    cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (position.file, position.position))
    return cur.fetchone()[0]


def test_positions_carry_the_executed_gtid_set(table, mariadb_service):
    """Each commit's end carries the GTID set MariaDB itself computes for that position (BINLOG_GTID_POS)."""
    name, conn = table
    with conn.cursor() as cur:
        at = _position(cur)
        start = at.model_copy(update={"gtid_set": _gtid_at(cur, at), "gtid_flavor": "mariadb"})
        for i in range(4):
            cur.execute(f"INSERT INTO {name}.t VALUES ({i}, 'g{i}', NULL)")
        cur.execute("FLUSH BINARY LOGS")
        cur.execute(f"UPDATE {name}.t SET v = 'h' WHERE id < 2")
        found = _transactions(mariadb_service, start, {(name, "t")})
        assert len(found) == 5
        for txn in found:
            assert txn.end.gtid_set == _gtid_at(cur, txn.end) and txn.end.gtid_flavor == "mariadb"
            assert txn.transaction_id.split("-")[-1] == txn.end.gtid_set.split("-")[-1]


def _source_transactions(source, start, tables, **kwargs) -> list[Transaction]:
    describe = source.hook().describe_table if source.is_obbinlog else None  # obbinlog: no column names
    with BinlogReader(source.settings(), SERVER_ID, start, tables, describe=describe, **kwargs) as reader:
        return [item for item in reader.read_transactions() if isinstance(item, Transaction)]


def test_reading_from_a_gtid_set_gives_what_reading_from_the_position_gives(table, source):
    """On MariaDB through `@slave_connect_state`; on the obbinlog double through `COM_BINLOG_DUMP_GTID`."""
    name, conn = table
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {name}.t VALUES (100, 'before', NULL)")
        if source.is_obbinlog:
            start = source.position()  # the double's SHOW MASTER STATUS carries its executed GTID set
        else:
            at = _position(cur)
            start = at.model_copy(update={"gtid_set": _gtid_at(cur, at), "gtid_flavor": "mariadb"})
        cur.execute(f"INSERT INTO {name}.t VALUES (101, 'after', NULL)")
        cur.execute(f"DELETE FROM {name}.t WHERE id = 100")
    source.caught_up()
    elsewhere = start.model_copy(update={"file": "not-a-binlog.000001", "position": 4})  # ignored by GTID
    by_gtid = _source_transactions(source, elsewhere, {(name, "t")}, by_gtid=True)
    by_position = _source_transactions(source, start, {(name, "t")})
    assert _images(by_gtid) == _images(by_position) and len(by_gtid) == 2
    assert [(t.start, t.end, t.transaction_id) for t in by_gtid] == [
        (t.start, t.end, t.transaction_id) for t in by_position
    ]
    # the GTID set resolved to `start`: the first transaction begins there, or after other tests' commits
    assert start.sort_key() <= by_gtid[0].start.sort_key() < by_gtid[0].end.sort_key()


def test_a_bad_gtid_set_fails_before_connecting(mariadb_service):
    start = BinlogPosition(file="x.000001", position=4, gtid_set="0-1", gtid_flavor="mariadb")
    with pytest.raises(ConfigError, match="'0-1' is not domain-server-sequence"):
        BinlogReader(_settings(mariadb_service), SERVER_ID, start, set(), by_gtid=True)
