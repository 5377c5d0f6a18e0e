"""Chunk planning and chunk reads against the real seekdb (OceanBase kernel), live and AS OF SNAPSHOT."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from airflow_provider_obkafka.engine.snapshot.chunking import ChunkPlan, choose_chunk_key, plan_chunks
from airflow_provider_obkafka.engine.snapshot.sql import (
    boundary_sql,
    qualified_name,
    quote_ident,
    select_chunk_sql,
    snapshot_clause,
)
from airflow_provider_obkafka.hooks import ob_metadata
from airflow_provider_obkafka.models.schema import TableRef

CHUNK = 1000
T0 = datetime(2024, 1, 1)


class Case(NamedTuple):
    """A table to chunk: its DDL body, its rows, rows inserted after the snapshot, the expected chunk key."""

    columns: str
    rows: list[tuple[Any, ...]]
    later: list[tuple[Any, ...]]
    key: tuple[str, ...]
    warning: str | None


def skewed_regions() -> list[tuple[str, int]]:
    sizes = {"us": 3000, "eu": 1500, "a": 1, "zz": 499}
    return [(region, seq) for region, count in sizes.items() for seq in range(count)]


CASES = {
    "dense": Case(
        "id BIGINT NOT NULL, v VARCHAR(32), PRIMARY KEY (id)",
        [(i, f"v{i}") for i in range(10_000)],
        [(-5, "before"), (20_000, "after")],
        ("id",),
        None,
    ),
    "sparse": Case(
        "id BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT",
        [(i, i) for i in range(1, 1001)] + [(10**12 + i, i) for i in range(9001)],
        [(5000, 0), (10**12 + 9001, 0), (2**64 - 1, 0)],
        ("id",),
        None,
    ),
    "composite": Case(
        "region VARCHAR(16) NOT NULL, seq INT NOT NULL, v INT, PRIMARY KEY (region, seq)",
        [(region, seq, seq) for region, seq in skewed_regions()],
        [("m", 1, 0), ("us", 99_999, 0), ("", 0, 0), ("us", -1, 0)],
        ("region", "seq"),
        None,
    ),
    "datetime": Case(
        "at DATETIME(6) NOT NULL PRIMARY KEY, v INT",
        [(T0 + timedelta(seconds=37 * i, microseconds=i), i) for i in range(3000)],
        [
            (T0 - timedelta(days=1), 0),
            (T0 + timedelta(seconds=37 * 1500 + 1), 0),
            (T0 + timedelta(days=9999), 0),
        ],
        ("at",),
        None,
    ),
    "decimal": Case(
        "amount DECIMAL(20,6) NOT NULL PRIMARY KEY, v INT",
        [(Decimal(i) / 8, i) for i in range(-1000, 1500)],
        [(Decimal("0.0625"), 0), (Decimal("99999999999999.999999"), 0)],
        ("amount",),
        None,
    ),
    "unique_not_null": Case(
        "code VARCHAR(20) NOT NULL, n INT NOT NULL, note VARCHAR(10), "
        "UNIQUE KEY a_nullable (note), UNIQUE KEY uk_code_n (code, n)",
        [(f"c{i % 7}", i, None) for i in range(2500)],
        [("c3", -1, None), ("zzz", 0, None)],
        ("code", "n"),
        "NOT NULL unique key (code, n)",
    ),
    "no_key": Case(
        "v INT, w VARCHAR(5)",
        [(i % 100, "dup") for i in range(2500)],
        [(1, "dup"), (7, "new")],
        (),
        "read in one pass",
    ),
    "empty": Case("id INT NOT NULL PRIMARY KEY", [], [(1,)], ("id",), None),
}


@pytest.fixture
def seekdb_db(seekdb_database):
    """A fresh database on seekdb: (connection, name)."""
    name, conn = seekdb_database
    return conn, name


def insert(cur, table: str, rows: list[tuple[Any, ...]]) -> None:
    for start in range(0, len(rows), 1000):
        batch = rows[start : start + 1000]
        marks = ", ".join(["%s"] * len(batch[0]))
        cur.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)


def query(cur, statement: tuple[str, tuple[Any, ...] | None]) -> list[tuple[Any, ...]]:
    """Run a statement as DbApiHook does: with parameters only when there are some."""
    sql, params = statement
    if params:
        cur.execute(sql, params)
    else:
        cur.execute(sql)
    return list(cur.fetchall())


def planned(cur, schema, scn: int | None) -> tuple[ChunkPlan, int]:
    """Plan with the boundary SQL (at `scn`), then carry the plan through JSON as XCom would."""
    key = choose_chunk_key(schema)
    calls = []

    def next_boundary(after, offset):
        calls.append(after)
        found = query(cur, boundary_sql(schema, key.columns, after, offset, scn))
        return found[0] if found else None

    def count_rows():
        return query(cur, (f"SELECT COUNT(*) FROM {qualified_name(schema)}{snapshot_clause(scn)}", None))[0][
            0
        ]

    plan = plan_chunks(schema.ref, key, CHUNK, next_boundary, count_rows=count_rows)
    return ChunkPlan.from_dict(json.loads(json.dumps(plan.to_dict()))), len(calls)


def read_chunks(cur, schema, plan: ChunkPlan, scn: int | None) -> list[list[tuple[Any, ...]]]:
    return [query(cur, select_chunk_sql(schema, None, plan.key_columns, chunk, scn)) for chunk in plan.chunks]


@pytest.mark.parametrize("name", list(CASES))
def test_every_row_is_read_exactly_once(seekdb_db, name):
    conn, db = seekdb_db
    case = CASES[name]
    table = f"{db}.{name}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} ({case.columns})")
        if case.rows:
            insert(cur, table, case.rows)
        schema = ob_metadata.read_table_schema(cur, db, name)
        cur.execute("SELECT current_scn()")
        scn = int(cur.fetchone()[0])
        insert(cur, table, case.later)

        plan, queries = planned(cur, schema, scn)
        assert plan.key_columns == case.key
        assert plan.estimated_rows == len(case.rows)
        if case.warning is None:
            assert plan.warning is None
        else:
            assert case.warning in plan.warning
        expected_chunks = max(1, -(-len(case.rows) // CHUNK)) if case.key else 1
        assert len(plan.chunks) == expected_chunks
        assert queries == (expected_chunks if case.key else 0), "one boundary query per chunk"

        at_snapshot = read_chunks(cur, schema, plan, scn)
        baseline = query(cur, (f"SELECT * FROM {qualified_name(schema)}{snapshot_clause(scn)}", None))
        assert len(baseline) == len(case.rows), "rows inserted after the SCN are not in the snapshot"
        assert Counter(row for part in at_snapshot for row in part) == Counter(baseline)
        if case.key:  # unique keys: every chunk but the last holds exactly the target
            assert [len(part) for part in at_snapshot[:-1]] == [CHUNK] * (len(at_snapshot) - 1)
            assert len(at_snapshot[-1]) <= CHUNK

        live = read_chunks(cur, schema, plan, None)  # the snapshot's chunks, on today's data
        current = query(cur, (f"SELECT * FROM {qualified_name(schema)}", None))
        assert len(current) == len(case.rows) + len(case.later)
        assert Counter(row for part in live for row in part) == Counter(current), (
            "later rows fall in one chunk"
        )


def test_chunk_reads_are_index_range_scans(seekdb_db):
    conn, db = seekdb_db
    case = CASES["composite"]
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.composite ({case.columns})")
        insert(cur, f"{db}.composite", case.rows)
        schema = ob_metadata.read_table_schema(cur, db, "composite")
        plan, _ = planned(cur, schema, None)
        sql, params = select_chunk_sql(schema, None, plan.key_columns, plan.chunks[1])
        cur.execute("EXPLAIN " + sql, params)
        text = "\n".join(str(row[0]) for row in cur.fetchall())
    assert "RANGE SCAN" in text
    assert "range_key([composite.region], [composite.seq])" in text


def test_odd_names_are_quoted(seekdb_db):
    conn, db = seekdb_db
    name, key = "we`ird%t", "k`%s"
    ref = TableRef(db, name)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {qualified_name(ref)} ({quote_ident(key)} INT PRIMARY KEY, v INT)")
        insert(cur, qualified_name(ref).replace("%", "%%"), [(i, i) for i in range(2500)])
        schema = ob_metadata.read_table_schema(cur, db, name)
        assert schema.primary_key == (key,)
        plan, _ = planned(cur, schema, None)
        parts = read_chunks(cur, schema, plan, None)
        for chunk in plan.chunks:  # pymysql directly, always passing params (None when there are none)
            cur.execute(*select_chunk_sql(schema, None, plan.key_columns, chunk))
            assert list(cur.fetchall()) == parts[chunk.index]
    assert [len(part) for part in parts] == [1000, 1000, 500]
    assert sorted(row for part in parts for row in part) == [(i, i) for i in range(2500)]
