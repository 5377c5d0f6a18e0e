"""SQL text for chunk reads: quoting, the chunk SELECT, the boundary query, and both run against SQLite."""

from __future__ import annotations

import sqlite3

import pytest

from airflow_provider_obkafka.engine.snapshot.chunking import Chunk, plan_chunks
from airflow_provider_obkafka.engine.snapshot.sql import (
    boundary_sql,
    key_condition,
    qualified_name,
    quote_ident,
    select_chunk_sql,
    snapshot_clause,
)
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema

REF = TableRef("shop", "orders")
SCHEMA = TableSchema(
    database="shop",
    table="orders",
    columns=tuple(
        Column(name=name, position=i, data_type="int", column_type="int")
        for i, name in enumerate(("a", "b", "v"))
    ),
    primary_key=("a", "b"),
)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", "`orders`"),
        ("weird`name", "`weird``name`"),
        ("``", "``````"),
        ("50%off", "`50%off`"),
        ("заказы 1", "`заказы 1`"),
        ("select", "`select`"),
    ],
)
def test_quote_ident(name, quoted):
    assert quote_ident(name) == quoted


@pytest.mark.parametrize("name", ["", "a\x00b", None, 3])
def test_quote_ident_refuses_unusable_names(name):
    with pytest.raises(ValueError, match="identifier"):
        quote_ident(name)


def test_qualified_name_of_a_ref_a_schema_and_a_plain_tuple():
    assert (
        qualified_name(REF)
        == qualified_name(SCHEMA)
        == qualified_name(("shop", "orders"))
        == "`shop`.`orders`"
    )


@pytest.mark.parametrize(
    ("scn", "clause"),
    [(None, ""), (0, " AS OF SNAPSHOT 0"), (1795676678012892015, " AS OF SNAPSHOT 1795676678012892015")],
)
def test_snapshot_clause(scn, clause):
    assert snapshot_clause(scn) == clause


@pytest.mark.parametrize("scn", ["123", "1; DROP TABLE t", 1.0, True, -1])
def test_snapshot_scn_must_be_a_non_negative_int(scn):
    with pytest.raises(ValueError, match="snapshot SCN"):
        snapshot_clause(scn)


@pytest.mark.parametrize(
    ("columns", "operator", "values", "sql", "params"),
    [
        (["id"], ">=", [5], "`id` >= %s", (5,)),
        (["a", "b"], "<", ("x", 2), "(`a`, `b`) < (%s, %s)", ("x", 2)),
        (["a", "b", "c"], ">", (1, 2, 3), "(`a`, `b`, `c`) > (%s, %s, %s)", (1, 2, 3)),
    ],
)
def test_key_condition(columns, operator, values, sql, params):
    assert key_condition(columns, operator, values) == (sql, params)


@pytest.mark.parametrize(
    ("columns", "operator", "values", "message"),
    [
        (["a", "b"], ">=", (1,), "has 1 part"),
        ([], ">=", (), "at least one"),
        (["a"], "=; --", (1,), "unsupported"),
    ],
)
def test_key_condition_errors(columns, operator, values, message):
    with pytest.raises(ValueError, match=message):
        key_condition(columns, operator, values)


def chunk(lower, upper, key=("a", "b")) -> Chunk:
    return Chunk(REF, 1, key, lower, upper)


SELECT = "SELECT `a`, `b`, `v` FROM `shop`.`orders`"
ORDER = " ORDER BY `a`, `b`"


@pytest.mark.parametrize(
    ("the_chunk", "scn", "sql", "params"),
    [
        (chunk(None, None), None, SELECT + ORDER, None),
        (chunk(None, ("m", 1)), None, SELECT + " WHERE (`a`, `b`) < (%s, %s)" + ORDER, ("m", 1)),
        (
            chunk(("m", 1), None),
            7,
            SELECT + " AS OF SNAPSHOT 7 WHERE (`a`, `b`) >= (%s, %s)" + ORDER,
            ("m", 1),
        ),
        (
            chunk(("m", 1), ("t", 0)),
            None,
            SELECT + " WHERE (`a`, `b`) >= (%s, %s) AND (`a`, `b`) < (%s, %s)" + ORDER,
            ("m", 1, "t", 0),
        ),
        (chunk(None, None, key=()), 9, SELECT + " AS OF SNAPSHOT 9", None),
    ],
)
def test_select_chunk_sql(the_chunk, scn, sql, params):
    assert select_chunk_sql(SCHEMA, None, the_chunk.key_columns, the_chunk, scn) == (sql, params)


def test_select_chunk_sql_with_chosen_columns_and_one_key_column():
    one = Chunk(REF, 0, ("id",), (10,), (20,))
    sql, params = select_chunk_sql(REF, ["id", "note"], ["id"], one)
    assert sql == "SELECT `id`, `note` FROM `shop`.`orders` WHERE `id` >= %s AND `id` < %s ORDER BY `id`"
    assert params == (10, 20)


PCT = TableRef("50%db", "t%s")


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            boundary_sql(PCT, ["k%"], None, 5),
            ("SELECT `k%` FROM `50%db`.`t%s` ORDER BY `k%` LIMIT 1 OFFSET 5", None),
        ),
        (
            boundary_sql(PCT, ["k%"], (1,), 5),
            ("SELECT `k%%` FROM `50%%db`.`t%%s` WHERE `k%%` >= %s ORDER BY `k%%` LIMIT 1 OFFSET 5", (1,)),
        ),
        (
            select_chunk_sql(PCT, ["k%"], ["k%"], Chunk(PCT, 0, ("k%",), None, None)),
            ("SELECT `k%` FROM `50%db`.`t%s` ORDER BY `k%`", None),
        ),
    ],
)
def test_percent_in_names_is_doubled_only_when_the_statement_has_parameters(statement, expected):
    assert statement == expected
    sql, params = statement
    if params:  # what pymysql sends: the text formatted with the escaped parameters
        assert "%%" not in sql % tuple("?" for _ in params)


def test_values_are_parameters_never_text():
    evil = "x'); DROP TABLE orders; --"
    sql, params = select_chunk_sql(SCHEMA, None, ("a", "b"), chunk((evil, 1), None), None)
    assert evil not in sql
    assert params == (evil, 1)


@pytest.mark.parametrize(
    ("table", "columns", "key", "message"),
    [
        (REF, None, ("a", "b"), "name the columns"),
        (SCHEMA, [], ("a", "b"), "no columns"),
        (SCHEMA, None, ("a",), "was planned on key"),
    ],
)
def test_select_chunk_sql_errors(table, columns, key, message):
    with pytest.raises(ValueError, match=message):
        select_chunk_sql(table, columns, key, chunk(None, None), None)


@pytest.mark.parametrize(
    ("key", "after", "offset", "scn", "sql", "params"),
    [
        (
            ["id"],
            None,
            1000,
            None,
            "SELECT `id` FROM `shop`.`orders` ORDER BY `id` LIMIT 1 OFFSET 1000",
            None,
        ),
        (
            ["id"],
            (5,),
            10,
            123,
            "SELECT `id` FROM `shop`.`orders` AS OF SNAPSHOT 123 WHERE `id` >= %s"
            " ORDER BY `id` LIMIT 1 OFFSET 10",
            (5,),
        ),
        (
            ["a", "b"],
            ("x", 1),
            2,
            None,
            "SELECT `a`, `b` FROM `shop`.`orders` WHERE (`a`, `b`) >= (%s, %s)"
            " ORDER BY `a`, `b` LIMIT 1 OFFSET 2",
            ("x", 1),
        ),
    ],
)
def test_boundary_sql(key, after, offset, scn, sql, params):
    assert boundary_sql(REF, key, after, offset, scn) == (sql, params)


@pytest.mark.parametrize(
    ("key", "offset", "message"), [(["id"], 0, "offset"), (["id"], True, "offset"), ([], 5, "key column")]
)
def test_boundary_sql_errors(key, offset, message):
    with pytest.raises(ValueError, match=message):
        boundary_sql(REF, key, None, offset)


@pytest.fixture
def sqlite_table():
    """A SQLite table with a composite key; SQLite reads backtick names and row values like MySQL."""
    conn = sqlite3.connect(":memory:")
    conn.execute("ATTACH ':memory:' AS shop")
    conn.execute(
        "CREATE TABLE shop.orders (a TEXT NOT NULL, b INTEGER NOT NULL, v INTEGER, PRIMARY KEY (a, b))"
    )
    rows = [(chr(97 + i % 7) * (1 + i % 2), i, i * 10) for i in range(500)]
    conn.executemany("INSERT INTO shop.orders VALUES (?, ?, ?)", rows)
    yield conn, rows
    conn.close()


def run(conn, sql_and_params):
    sql, params = sql_and_params
    return conn.execute(sql.replace("%s", "?"), params or ()).fetchall()


@pytest.mark.parametrize("size", [1, 13, 100, 499, 500, 5000])
def test_planned_sql_reads_every_row_once_on_a_real_engine(sqlite_table, size):
    conn, rows = sqlite_table

    def next_boundary(after, offset):
        found = run(conn, boundary_sql(REF, ("a", "b"), after, offset))
        return found[0] if found else None

    plan = plan_chunks(REF, ("a", "b"), size, next_boundary)
    read = [run(conn, select_chunk_sql(SCHEMA, None, ("a", "b"), c)) for c in plan.chunks]
    assert sorted(row for part in read for row in part) == sorted(rows)
    assert all(len(part) == size for part in read[:-1])
    assert 0 < len(read[-1]) <= size
    assert all(part == sorted(part) for part in read), "each chunk comes ordered by the key"


def test_a_slice_of_a_table_without_a_key_is_ordered_by_every_column_as_bytes_then_value():
    heap = SCHEMA.model_copy(update={"primary_key": ()})
    chunk = Chunk(REF, 1, (), None, None, (40, 40))
    sql, params = select_chunk_sql(heap, ["v"], (), chunk, 123)
    order = ", ".join(f"CAST(`{c}` AS BINARY), `{c}`" for c in ("a", "b", "v"))
    assert sql == f"SELECT `v` FROM `shop`.`orders` AS OF SNAPSHOT 123 ORDER BY {order} LIMIT 40 OFFSET 40"
    assert params is None
    last, _ = select_chunk_sql(heap, ["v"], (), Chunk(REF, 2, (), None, None, (80, None)), 123)
    assert last.endswith(f"LIMIT {2**62} OFFSET 80")
    with pytest.raises(ValueError, match="needs a snapshot"):
        select_chunk_sql(heap, ["v"], (), chunk, None)
