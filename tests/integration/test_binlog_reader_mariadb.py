"""BinlogReader on each source (MariaDB's ROW/FULL binlog, the obbinlog double): grouping, positions, resume, DDL,
bounded memory."""

from __future__ import annotations

import datetime
import tracemalloc

import pytest

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.transactions import Commit, Transaction
from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.models.position import BinlogPosition

SERVER_ID = 4242


@pytest.fixture
def db(mariadb_database):
    name, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name}.a (id INT PRIMARY KEY, v VARCHAR(20), ts TIMESTAMP NULL)")
        cur.execute(f"CREATE TABLE {name}.b (id INT PRIMARY KEY, n BIGINT UNSIGNED)")
        cur.execute(f"CREATE TABLE {name}.outside (id INT PRIMARY KEY)")
    return name, conn


def _position(source) -> BinlogPosition:
    return source.position()


def _reader(source, start, tables, **kwargs) -> BinlogReader:
    """A non-blocking reader of the source; on the double, TABLE_MAPs name no columns: the tables are described."""
    source.caught_up()
    describe = source.hook().describe_table if source.is_obbinlog else None
    return BinlogReader(source.settings(), SERVER_ID, start, tables, describe=describe, **kwargs)


def _read(source, start, tables, **kwargs) -> list:
    with _reader(source, start, tables, **kwargs) as reader:
        return list(reader.read_transactions())


NO_NAMES_ACROSS_ALTER = (
    "obbinlog's TABLE_MAP carries no column names (no optional metadata, parallel_convert.cpp): the rows this "
    "workload logs before its ALTER can only be described by the table as it is after it, which the reader "
    "refuses ('the schema changed after this event; resync the table')"
)


def _skip_on_obbinlog(source) -> None:
    if source.is_obbinlog:
        pytest.skip(NO_NAMES_ACROSS_ALTER)


def _workload(name, conn) -> None:
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+05:00'")
        cur.execute(f"INSERT INTO {name}.a VALUES (1, 'one', '2024-01-01 12:00:00')")  # T1
        cur.execute(f"UPDATE {name}.a SET v = 'uno' WHERE id = 1")  # T2
        cur.execute(f"UPDATE {name}.a SET id = 10 WHERE id = 1")  # T3 primary-key update
        cur.execute(f"INSERT INTO {name}.outside VALUES (1)")  # out of scope: no transaction
        cur.execute("BEGIN")  # T4: multi-row, multi-table
        cur.execute(f"INSERT INTO {name}.a (id, v) VALUES (2, 'two'), (3, 'three')")
        cur.execute(f"INSERT INTO {name}.outside VALUES (2)")
        cur.execute(f"INSERT INTO {name}.b VALUES (1, 18446744073709551615)")
        cur.execute(f"DELETE FROM {name}.a WHERE id = 2")
        cur.execute("COMMIT")
        cur.execute(f"ALTER TABLE {name}.a ADD COLUMN extra INT DEFAULT 7")  # SchemaChange
        cur.execute(f"INSERT INTO {name}.a (id, v, extra) VALUES (4, 'four', 44)")  # T5
        cur.execute(f"DELETE FROM {name}.b WHERE id = 1")  # T6
        cur.execute(f"RENAME TABLE {name}.b TO {name}.b_gone")  # SchemaChange, out of scope
        cur.execute(f"INSERT INTO {name}.b_gone VALUES (2, 2)")  # out of scope now


def test_transactions_exact(db, source):
    _skip_on_obbinlog(source)
    name, conn = db
    start = _position(source)
    _workload(name, conn)
    items = _read(source, start, {(name, "a"), (name, "b")})
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Transaction"] * 4 + ["SchemaChange"] + ["Transaction"] * 2 + ["SchemaChange"]
    t1, t2, t3, t4, alter, t5, t6, rename = items
    utc_noon_plus5 = datetime.datetime(2024, 1, 1, 7, 0, 0)  # 12:00 at +05:00 is 07:00 UTC
    assert [(c.record_type, c.before, c.after, c.sequence) for c in t1.changes] == [
        (RecordType.INSERT, None, (1, "one", utc_noon_plus5), 1)
    ]
    assert t1.changes[0].columns == ("id", "v", "ts") and t1.changes[0].key_columns == ("id",)
    assert [(c.before, c.after) for c in t2.changes] == [((1, "one", utc_noon_plus5), (1, "uno", utc_noon_plus5))]
    assert [(c.record_type, c.before[0], c.after[0]) for c in t3.changes] == [(RecordType.UPDATE, 1, 10)]
    assert [(c.table, c.record_type, c.before, c.after, c.sequence) for c in t4.changes] == [
        ("a", RecordType.INSERT, None, (2, "two", None), 1),
        ("a", RecordType.INSERT, None, (3, "three", None), 2),
        ("b", RecordType.INSERT, None, (1, 18446744073709551615), 3),
        ("a", RecordType.DELETE, (2, "two", None), None, 4),
    ]
    assert {c.transaction_id for c in t4.changes} == {t4.transaction_id}
    assert all(c.commit_ts_us == t4.commit_ts_us for c in t4.changes)
    assert (alter.kind, alter.table, alter.out_of_scope) == ("ALTER", "a", False)
    assert t5.changes[0].columns == ("id", "v", "ts", "extra")
    assert t5.changes[0].after == (4, "four", None, 44)
    assert [(c.table, c.record_type) for c in t6.changes] == [("b", RecordType.DELETE)]
    assert (rename.kind, rename.table, rename.renamed_to.table, rename.out_of_scope) == ("RENAME", "b", "b_gone", True)
    ends = [i.end if isinstance(i, Transaction) else i.position for i in items]
    assert all(x.sort_key() < y.sort_key() for x, y in zip(ends, ends[1:], strict=False))
    # other tests' commits may land between this workload's: a transaction starts where the last one the
    # reader passed ended, at or after the start, never before the end of the previous one in scope
    assert start.sort_key() <= t1.start.sort_key() < t1.end.sort_key() <= t2.start.sort_key()
    assert t2.end.sort_key() <= t3.start.sort_key()
    assert t3.end.sort_key() < t4.start.sort_key()  # the out-of-scope transaction lies between


def test_resume_from_each_end(db, source):
    _skip_on_obbinlog(source)
    name, conn = db
    start = _position(source)
    _workload(name, conn)
    tables = {(name, "a"), (name, "b")}
    full = [i for i in _read(source, start, tables) if isinstance(i, Transaction)]
    for k, txn in enumerate(full):
        again = [i for i in _read(source, txn.end, tables) if isinstance(i, Transaction)]
        assert [t.transaction_id for t in again] == [t.transaction_id for t in full[k + 1 :]]
        assert [[(c.before, c.after) for c in t.changes] for t in again] == [
            [(c.before, c.after) for c in t.changes] for t in full[k + 1 :]
        ]


def test_predicate_scope_and_zero_values(db, source):
    name, conn = db
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name}.z (id INT PRIMARY KEY, d DATE, dt DATETIME(3), s SET('x','y'))")
        start = _position(source)
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute(f"INSERT INTO {name}.z VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '')")
        cur.execute(f"INSERT INTO {name}.z VALUES (2, '2024-02-03', '2024-02-03 04:05:06.789', 'x,y')")
    items = _read(source, start, lambda d, t: d == name and t == "z")
    assert [c.after for t in items for c in t.changes] == [
        (1, "0000-00-00", "0000-00-00 00:00:00.000", ""),
        (2, datetime.date(2024, 2, 3), datetime.datetime(2024, 2, 3, 4, 5, 6, 789000), {"x", "y"}),
    ]


def test_big_transaction_bounded_memory(db, source):
    name, conn = db
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name}.big (id INT PRIMARY KEY, pad VARCHAR(40))")
        start = _position(source)
        cur.execute(f"INSERT INTO {name}.big SELECT seq, REPEAT('x', 40) FROM {name}.seq_1_to_100000")  # one transaction
    rows, last_seq, commits = 0, 0, []
    tracemalloc.start()
    try:
        with _reader(source, start, {(name, "big")}) as reader:
            for item in reader.iter_changes():
                if isinstance(item, RowChange):
                    rows += 1
                    assert item.sequence == last_seq + 1
                    last_seq = item.sequence
                elif isinstance(item, Commit):
                    commits.append(item)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 100_000 and [c.changes for c in commits if c.changes] == [100_000]
    assert peak < 8 * 1024 * 1024, peak


def test_a_statement_on_two_tables_maps_both_before_their_rows(db, source):
    """One multi-table UPDATE: TABLE_MAP a, TABLE_MAP b, then a's rows and b's rows (on MariaDB). Each row is
    decoded with its own table's map, not with the last map read (the reader keeps that one for the rows that
    usually follow it)."""
    name, conn = db
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {name}.a (id, v) VALUES (1, 'one'), (2, 'two')")
        cur.execute(f"INSERT INTO {name}.b VALUES (1, 10), (2, 20)")
        start = _position(source)
        cur.execute(f"UPDATE {name}.a JOIN {name}.b ON a.id = b.id SET a.v = CONCAT(a.v, '!'), b.n = b.n + 1")
        cur.execute(f"INSERT INTO {name}.b VALUES (3, 30)")  # then b alone, after a map of b
        cur.execute(f"INSERT INTO {name}.a (id, v) VALUES (3, 'three')")
    changes = [c for t in _read(source, start, {(name, "a"), (name, "b")}) for c in t.changes]
    assert sorted((c.table, c.before, c.after) for c in changes[:4]) == [
        ("a", (1, "one", None), (1, "one!", None)), ("a", (2, "two", None), (2, "two!", None)),
        ("b", (1, 10), (1, 11)), ("b", (2, 20), (2, 21)),
    ]  # fmt: skip
    assert [(c.table, c.after) for c in changes[4:]] == [("b", (3, 30)), ("a", (3, "three", None))]
