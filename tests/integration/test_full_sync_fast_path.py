"""Server rendering (`engine.snapshot.render`) gives the Python path's exact bytes, on seekdb and on MariaDB.

Each test reads one table twice, as `FullSyncOperator` does: once with the plain chunk SELECT and the Default
serializer (the Python path), once with the server-rendering SELECT and its encoder; the Kafka keys and
message values must be equal byte for byte. The table holds every column type with hard values: every ASCII
control character, quotes and backslashes (also in column names), `\\u000B` as text, non-ASCII text, BLOBs
long enough for TO_BASE64's line breaks, decimals of scale 0 and 10, negative and fractional TIME, TIMESTAMP
and DATETIME of precision 0 and 3, zero dates (MariaDB), FLOAT and DOUBLE extremes, BIT(64), JSON, and a
composite key whose text needs escaping.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest

from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.pipeline.full import row_encoder
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.snapshot import render as render_sql
from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
from airflow_provider_obkafka.engine.snapshot.render_columns import probe_json_quote
from airflow_provider_obkafka.engine.snapshot.sql import select_chunk_sql
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook

SERVERS = {
    "seekdb": SimpleNamespace(
        database="seekdb_database", conn_id="oceanbase_default", other_charset="utf8mb4"
    ),
    "mariadb": SimpleNamespace(database="mariadb_database", conn_id="mariadb_binlog", other_charset="latin1"),
}

EDGE_TABLE = """
CREATE TABLE {db}.edge (
  id INT NOT NULL, name VARCHAR(40) NOT NULL,
  `we"ird` VARCHAR(400), `back\\slash` TEXT, `per%cent` INT, `quo'te` DECIMAL(20,10), `列` VARCHAR(20),
  d0 DECIMAL(10,0), du DECIMAL(12,4) UNSIGNED, b BOOL, y YEAR, bu BIGINT UNSIGNED NOT NULL DEFAULT 0,
  t0 TIME, t3 TIME(3), dt0 DATETIME, dt3 DATETIME(3), d DATE,
  ts0 TIMESTAMP NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL,
  f FLOAT, dd DOUBLE NOT NULL DEFAULT 0,
  bin8 BINARY(8), lb LONGBLOB, vb VARBINARY(300), bits BIT(64), bit3 BIT(3),
  e ENUM('ä', 'b"q', 'x\\\\y'), s SET('a', 'ü', 'c'), j JSON, c8 VARCHAR(30) CHARACTER SET {other},
  PRIMARY KEY (id, name)
) DEFAULT CHARSET = utf8mb4
"""
ALL_ASCII = "".join(chr(code) for code in range(128))
TRICKY = ALL_ASCII + "\\u000B \\\\u001F \" ' % é 中 😀 \u2028\u2029\ufeff\u0085"
ROWS = [
    (
        1,
        "plain",
        TRICKY,
        'line1\nline2 "q" \\ end\t\x0b\x1f',
        -7,
        "0.0000000000",
        "中文",
        "0",
        "0.0001",
        1,
        1901,
        18446744073709551615,
        "-838:59:59",
        "-00:00:00.500",
        "1000-01-01 00:00:00",
        "2024-02-29 23:59:59.999",
        "2024-02-29",
        "2038-01-19 03:14:07",
        "1970-01-01 00:00:01.001",
        3.4e38,
        2.2250738585072014e-308,
        b"\x00" * 3,
        bytes(range(256)) * 2,
        b"",
        b"\xff" * 8,
        5,
        "ä",
        "a,ü,c",
        '{"k": "a\\u000bb\\\\\\"", "u": "中😀", "n": [1.5e10, -0, 0.10]}',
        "àé€",
    ),
    (
        2,
        'quote"and\\back',
        "",
        "",
        0,
        "-0.0000001000",
        "",
        "-9999999999",
        "99999999.9999",
        0,
        2155,
        0,
        "00:00:00",
        "12:00:00.120",
        "9999-12-31 23:59:59",
        "2000-01-01 00:00:00.000",
        "9999-12-31",
        "2000-06-15 12:00:00",
        "2000-06-15 12:00:00.100",
        -1e-45,
        -0.0,
        b"\x01",
        b"x" * 57,
        bytes(range(200, 256)),
        b"\x00" * 8,
        0,
        'b"q',
        "",
        "[]",
        "",
    ),
    (
        3,
        "ctl\x01\x1f中",
        "x" * 400,
        None,
        None,
        "9999999999.9999999999",
        None,
        None,
        None,
        None,
        None,
        7,
        "100:00:00",
        "00:00:01.100",
        None,
        None,
        None,
        None,
        None,
        0.1,
        0.1 + 0.2,
        None,
        bytes(range(256)) * 400,  # 100 KiB: its Base64 needs a 3-byte length in the row packet
        None,
        None,
        None,
        "x\\y",
        None,
        "{}",
        None,
    ),
    (4, "nulls", *([None] * 9), 0, *([None] * 8), 0, *([None] * 9)),
]


@pytest.fixture(params=sorted(SERVERS))
def server(request, airflow_conn_env):
    """A database on the server with the edge table filled; yields (name, db, hook, cursor)."""
    spec = SERVERS[request.param]
    db, conn = request.getfixturevalue(spec.database)
    cur = conn.cursor()
    cur.execute(EDGE_TABLE.format(db=db, other=spec.other_charset))
    cur.execute("SET time_zone = '+00:00'")
    marks = ", ".join(["%s"] * len(ROWS[0]))
    cur.executemany(f"INSERT INTO {db}.edge VALUES ({marks})", ROWS)
    if request.param == "mariadb":  # zero dates exist only where the sql_mode lets them in
        cur.execute("SET sql_mode = ''")
        cur.execute(
            f"INSERT INTO {db}.edge (id, name, t0, dt0, dt3, d, ts0, ts3, y) VALUES (5, 'zero', '00:00:00', "
            "'0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '0000-00-00', 0, 0, 0)"
        )
    hook = OceanBaseHook(ob_conn_id=spec.conn_id, session_time_zone="+00:00")
    return SimpleNamespace(name=request.param, db=db, hook=hook, cursor=cur)


def _both_paths(server, table: str = "edge", **options) -> tuple[list, list, render_sql.ServerRenderPlan]:
    """Every (key, value) of the table through the Python path and through server rendering."""
    schema = server.hook.describe_table(server.db, table)
    ctx = build_table_context(schema, **options)
    chunk = Chunk(schema.ref, 0, ctx.key_columns, None, None)
    sql, params = select_chunk_sql(schema, ctx.image_columns, chunk.key_columns, chunk)
    python = _read(server.hook, sql, params, row_encoder(serializer_for("Default"), ctx))
    with contextlib.closing(server.hook.get_conn()) as conn, conn.cursor() as cur:
        fix = probe_json_quote(cur)
    assert fix is not None, "strings must be rendered on the server for this test to mean anything"
    plan, reason = render_sql.plan(ctx, fix)
    assert plan is not None, reason
    sql, params = select_chunk_sql(schema, None, chunk.key_columns, chunk, expressions=plan.expressions)
    fast = _read(server.hook, sql, params, plan.encode)
    if not plan.python_columns:  # every column binary: FullSyncOperator parses the rows off the socket
        assert _read(server.hook, sql, params, plan.encode, bytes_rows=True) == fast
    return python, fast, plan


def _read(hook: OceanBaseHook, sql: str, params, encode, bytes_rows: bool = False) -> list:
    batches = hook.stream_batches(sql, params, batch_size=2, temporal_as_text=True, bytes_rows=bytes_rows)
    return [encode(row) for batch in batches for row in batch]


def test_every_type_renders_the_same_bytes_on_the_server(server):
    python, fast, plan = _both_paths(server)
    assert plan.python_columns == ("f", "dd"), "only FLOAT and DOUBLE are left to Python"
    assert len(python) == (5 if server.name == "mariadb" else 4)
    for (want_key, want_value), (key, value) in zip(python, fast, strict=True):
        assert key == want_key
        assert value == want_value, f"{value!r}\n!=\n{want_value!r}"


def test_selected_columns_and_shard_columns_render_the_same(server):
    python, fast, plan = _both_paths(
        server, columns=["id", "name", 'we"ird', "ts3", "lb", "f"], shard_columns=["ts3", "d0", "name"]
    )
    assert plan.python_columns == ("f",)
    assert fast == python
    keys = {key for key, _ in fast}
    assert {b"1.001\x010\x01plain", b"\x01\x01nulls"} <= keys, "the Kafka key is the shard columns' text"


def test_rows_parsed_off_the_socket_render_the_same(server):
    """Without FLOAT or DOUBLE every column is binary: rows of 1-, 2- and 3-byte lengths, read raw."""
    every = server.hook.describe_table(server.db, "edge").column_names
    columns = [name for name in every if name not in ("f", "dd")]
    python, fast, plan = _both_paths(server, columns=columns)
    assert plan.python_columns == ()
    assert fast == python
    assert max(len(value) for _, value in fast) > 1 << 17, "a LONGBLOB of 100 KiB is in the table"


def test_a_table_without_key_renders_the_same(server):
    server.cursor.execute(f"CREATE TABLE {server.db}.nokey (a VARCHAR(10), f DOUBLE, t TIMESTAMP(6) NULL)")
    server.cursor.execute(
        f"INSERT INTO {server.db}.nokey VALUES ('x\"y', 1.5, '2001-02-03 04:05:06.070800'), "
        "(NULL, NULL, NULL)"
    )
    python, fast, plan = _both_paths(server, table="nokey")
    assert sorted(fast) == sorted(python)
    assert len(fast) == 2
    assert {key for key, _ in fast} == {None}


def test_a_float_key_column_keeps_the_table_on_the_python_path(server):
    server.cursor.execute(f"CREATE TABLE {server.db}.fkey (k DOUBLE PRIMARY KEY, v INT)")
    ctx = build_table_context(server.hook.describe_table(server.db, "fkey"))
    plan, reason = render_sql.plan(ctx, ())
    assert plan is None
    assert reason == "key or shard column(s) k cannot be rendered on the server"
