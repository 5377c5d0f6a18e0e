"""OceanBaseHook against the real services: seekdb (OceanBase 4.3 kernel) and MariaDB with binlog."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from airflow_provider_obkafka.exceptions import CapabilityError, SchemaError
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.hooks.oceanbase_stream import STREAM_QUERY_TIMEOUT_US
from airflow_provider_obkafka.models.schema import TableRef

MANY_TYPES = """
CREATE TABLE {db}.many (
  id BIGINT UNSIGNED NOT NULL,
  code VARCHAR(32) NOT NULL,
  amount DECIMAL(20,6) DEFAULT '1.500000',
  ratio DOUBLE,
  flags BIT(5),
  color ENUM('red','it''s','blue') NOT NULL,
  tagset SET('a','b'),
  born DATE,
  at_time TIME(3),
  created DATETIME(6),
  updated TIMESTAMP(3) NULL,
  note TEXT CHARACTER SET utf8mb4,
  raw VARBINARY(16),
  doc JSON,
  yr YEAR,
  twice INT GENERATED ALWAYS AS (id * 2) STORED,
  PRIMARY KEY (id),
  UNIQUE KEY uk_code (code),
  UNIQUE KEY uk_nullable (amount, ratio)
)
"""


@pytest.fixture
def seekdb_db(seekdb_database) -> str:
    """A fresh database on seekdb, dropped after the test."""
    return seekdb_database[0]


@pytest.fixture
def ob_hook(airflow_conn_env) -> OceanBaseHook:
    return OceanBaseHook(ob_conn_id="oceanbase_default")


def test_connection_says_oceanbase(ob_hook):
    ok, message = ob_hook.test_connection()
    assert ok, message
    assert "OceanBase" in message


def test_list_tables_skips_views_and_applies_patterns(ob_hook, seekdb_db, seekdb_conn):
    with seekdb_conn().cursor() as cur:
        for table in ("orders", "order_items", "order_archive", "users"):
            cur.execute(f"CREATE TABLE {seekdb_db}.{table} (id INT PRIMARY KEY)")
        cur.execute(f"CREATE VIEW {seekdb_db}.order_view AS SELECT id FROM {seekdb_db}.orders")
    everything = ob_hook.list_tables([seekdb_db])
    assert [ref.table for ref in everything] == ["order_archive", "order_items", "orders", "users"]
    assert all(isinstance(ref, TableRef) and ref.database == seekdb_db for ref in everything)
    picked = ob_hook.list_tables([seekdb_db], include=["order*"], exclude=["*_archive"])
    assert [ref.table for ref in picked] == ["order_items", "orders"]
    assert ob_hook.list_tables([seekdb_db], include=["order_view"]) == []


def test_describe_table_with_many_types(ob_hook, seekdb_db, seekdb_conn):
    with seekdb_conn().cursor() as cur:
        cur.execute(MANY_TYPES.format(db=seekdb_db))
    schema = ob_hook.describe_table(seekdb_db, "many")
    assert schema.column_names == (
        "id",
        "code",
        "amount",
        "ratio",
        "flags",
        "color",
        "tagset",
        "born",
        "at_time",
        "created",
        "updated",
        "note",
        "raw",
        "doc",
        "yr",
        "twice",
    )
    col = {c.name: c for c in schema.columns}
    assert col["id"].data_type == "bigint" and col["id"].unsigned and not col["id"].nullable
    assert col["code"].length == 32 and col["code"].charset == "utf8mb4"
    assert (col["amount"].precision, col["amount"].scale) == (20, 6)
    assert col["amount"].default in ("1.500000", "1.5")
    assert col["flags"].data_type == "bit" and col["flags"].precision == 5
    assert col["color"].enum_values == ("red", "it's", "blue")
    assert col["tagset"].enum_values == ("a", "b")
    assert col["at_time"].fractional_seconds == 3
    assert col["created"].fractional_seconds == 6
    assert col["updated"].data_type == "timestamp" and col["updated"].fractional_seconds == 3
    assert col["raw"].charset is None
    assert col["twice"].generated == "STORED" and col["id"].generated is None
    assert [c.position for c in schema.columns] == list(range(1, 17))
    assert schema.primary_key == ("id",)
    keys = {k.name: k for k in schema.unique_keys}
    assert keys["uk_code"].columns == ("code",) and keys["uk_code"].not_null
    assert keys["uk_nullable"].columns == ("amount", "ratio") and not keys["uk_nullable"].not_null
    assert schema.row_key() == ("id",)


def test_describe_table_without_primary_key_uses_not_null_unique_key(ob_hook, seekdb_db, seekdb_conn):
    with seekdb_conn().cursor() as cur:
        cur.execute(f"CREATE TABLE {seekdb_db}.nopk (a INT, b VARCHAR(8) NOT NULL, UNIQUE KEY ub (b))")
        cur.execute(f"CREATE TABLE {seekdb_db}.bare (a INT, b INT)")
    assert ob_hook.describe_table(seekdb_db, "nopk").row_key() == ("b",)
    bare = ob_hook.describe_table(seekdb_db, "bare")
    assert bare.primary_key == () and bare.row_key() == ()


def test_describe_view_or_missing_table_is_a_clear_error(ob_hook, seekdb_db, seekdb_conn):
    with seekdb_conn().cursor() as cur:
        cur.execute(f"CREATE TABLE {seekdb_db}.t (id INT PRIMARY KEY)")
        cur.execute(f"CREATE VIEW {seekdb_db}.v AS SELECT id FROM {seekdb_db}.t")
    with pytest.raises(SchemaError, match=rf"{seekdb_db}\.v is a view, not a physical table"):
        ob_hook.describe_table(seekdb_db, "v")
    with pytest.raises(SchemaError, match=rf"table {seekdb_db}\.nope does not exist"):
        ob_hook.describe_table(seekdb_db, "nope")


def test_current_scn_and_snapshot_point_on_oceanbase(ob_hook):
    first = ob_hook.current_scn()
    second = ob_hook.current_scn()
    assert isinstance(first, int) and first > 10**18, "OceanBase 4.x SCNs are nanoseconds"
    assert second >= first
    point = ob_hook.snapshot_point(require_scn=True)
    assert point.scn >= second
    assert point.binlog is None, "seekdb has no Binlog Service"
    with pytest.raises(CapabilityError, match="reports no binlog position|has no binlog endpoint"):
        ob_hook.snapshot_point(require_binlog=True)


def test_get_records_and_run_work_as_a_dbapi_hook(ob_hook, seekdb_db):
    ob_hook.run(f"CREATE TABLE {seekdb_db}.kv (k INT PRIMARY KEY, v VARCHAR(8))")
    ob_hook.run(f"INSERT INTO {seekdb_db}.kv VALUES (%s, %s)", parameters=(1, "one"))
    assert list(ob_hook.get_records(f"SELECT k, v FROM {seekdb_db}.kv")) == [(1, "one")]
    assert ob_hook.get_first("SELECT @@time_zone") == ("+08:00",)


def _fill(seekdb_conn, db: str, rows: int) -> None:
    conn = seekdb_conn()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.big (id BIGINT PRIMARY KEY, payload VARCHAR(200))")
        step = 10_000
        for start in range(0, rows, step):
            values = [(i, f"{i:010d}" + "x" * 150) for i in range(start, min(start + step, rows))]
            cur.executemany(f"INSERT INTO {db}.big VALUES (%s, %s)", values)


def _peak_bytes(read) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = read()
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stream_200k_rows_with_flat_memory(ob_hook, seekdb_db, seekdb_conn):
    _fill(seekdb_conn, seekdb_db, 200_000)
    sql = f"SELECT id, payload FROM {seekdb_db}.big ORDER BY id"

    def streamed() -> int:
        count = expected = 0
        for row in ob_hook.stream_rows(sql):
            assert row[0] == expected
            expected += 1
            count += 1
        return count

    count, stream_peak = _peak_bytes(streamed)
    assert count == 200_000
    # The buffered baseline is an ordinary statement: under tracemalloc on a busy host it can pass seekdb's
    # 10 s ob_query_timeout, which only the streaming path lifts. The hint gives it the same room.
    baseline = sql.replace("SELECT", "SELECT /*+ QUERY_TIMEOUT(600000000) */", 1)
    buffered, buffered_peak = _peak_bytes(lambda: len(ob_hook.get_records(baseline)))
    assert buffered == 200_000
    # One batch in memory versus the whole result: measured in the same run, as a ratio.
    assert stream_peak * 8 < buffered_peak, (stream_peak, buffered_peak)
    assert stream_peak < 30 * 1024 * 1024, stream_peak


def test_abandoning_a_stream_does_not_drain_it(ob_hook, seekdb_db, seekdb_conn):
    _fill(seekdb_conn, seekdb_db, 100_000)
    started = time.monotonic()
    batches = ob_hook.stream_batches(f"SELECT * FROM {seekdb_db}.big", batch_size=100)
    assert len(next(batches)) == 100
    batches.close()
    assert time.monotonic() - started < 10


def test_mariadb_binlog_position_moves_with_writes(airflow_conn_env, unique_name, mariadb_conn):
    hook = OceanBaseHook(ob_conn_id="mariadb_binlog")
    ok, message = hook.test_connection()
    assert ok and "MySQL-compatible" in message
    before = hook.binlog_position()
    assert before.file and before.position >= 4 and before.gtid_flavor in (None, "mariadb")
    db = unique_name("binlog")
    with mariadb_conn().cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO {db}.t VALUES (1)")
        cur.execute(f"DROP DATABASE {db}")
    after = hook.binlog_position()
    assert after.sort_key() > before.sort_key()
    point = hook.snapshot_point(require_binlog=True)
    assert point.binlog is not None and point.scn is None
    with pytest.raises(CapabilityError, match="not OceanBase: it has no current_scn"):
        hook.current_scn()


def test_binlog_endpoint_defaults_to_the_connection_and_follows_extras(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OB_PLAIN", '{"conn_type": "oceanbase", "host": "odp1", "port": 2883}')
    monkeypatch.setenv(
        "AIRFLOW_CONN_OB_SPLIT",
        '{"conn_type": "oceanbase", "host": "odp1", "port": 2883, "login": "u@t#c", '
        '"extra": {"binlog_host": "binlog1", "binlog_port": 2983}}',
    )
    assert OceanBaseHook(ob_conn_id="ob_plain").binlog_endpoint() == ("odp1", 2883)
    split = OceanBaseHook(ob_conn_id="ob_split")
    assert split.binlog_endpoint() == ("binlog1", 2983)
    assert split.binlog_connection_settings()["user"] == "u@t#c"
    assert (split.login.tenant, split.login.cluster) == ("t", "c")


def test_a_stream_outlives_oceanbase_default_query_timeout(ob_hook, seekdb_conn):
    """seekdb, as OceanBase, ends statements after ob_query_timeout (10 s); a streamed chunk must not end."""
    with seekdb_conn().cursor() as cur:
        cur.execute("SELECT @@ob_query_timeout")
        assert cur.fetchone()[0] <= 10_000_000, "the server default this test is about"
    assert list(ob_hook.stream_rows("SELECT @@ob_query_timeout")) == [(STREAM_QUERY_TIMEOUT_US,)]
    started = time.monotonic()
    assert list(ob_hook.stream_rows("SELECT SLEEP(11)")) == [(0,)]
    assert time.monotonic() - started >= 11


def test_a_stream_on_mariadb_has_no_oceanbase_variable_to_set(airflow_conn_env):
    hook = OceanBaseHook(ob_conn_id="mariadb_binlog")
    assert list(hook.stream_rows("SELECT 1")) == [(1,)]
