"""Golden messages of a full synchronization in Default format, every column type, on seekdb and on MariaDB.

One table with every column type is created and filled on the real server, then synchronized with the
operators (schema sync, plan, each chunk), and the messages read back from Kafka are compared with the
golden files in `golden/` (`full_default_<server>.json`). The golden files hold what `docs/formats.md`
prescribes; they were generated once by the sync and then checked rule by rule against that page.

Every test runs through both rendering paths (`path`): `server`, the Default JSON written by the source server
(`engine.snapshot.render`, FullSyncOperator's default), and `python`, the Python serializer; the same golden files
hold for both. (tests/integration/test_full_sync_fast_path.py compares the two paths byte for byte.)

Regenerate with `OBKAFKA_REGENERATE_GOLDEN=1` (then read the diff critically: a value that contradicts
docs/formats.md is a bug, not a new golden value).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from airflow_provider_obkafka.engine.snapshot import render as render_sql
from airflow_provider_obkafka.engine.snapshot.render_columns import json_sql
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

GOLDEN_DIR = Path(__file__).with_name("golden")
DB_PLACEHOLDER = "<db>"
REGENERATE = os.environ.get("OBKAFKA_REGENERATE_GOLDEN") == "1"

# Each server: connection fixture, Airflow conn id, session time zone used for the INSERTs, dbType.
# seekdb knows only the utf8mb4 and binary character sets (`Unknown character set: 'latin1'`), so its c_8bit
# column is utf8mb4; on MariaDB it is latin1.
SERVERS = {
    "seekdb": SimpleNamespace(
        conn="seekdb_conn", conn_id="oceanbase_default", tz=timedelta(hours=8), db_type="OB_MYSQL", other_charset="utf8mb4"
    ),
    "mariadb": SimpleNamespace(
        conn="mariadb_conn", conn_id="mariadb_binlog", tz=timedelta(hours=3), db_type="MYSQL", other_charset="latin1"
    ),
}

CREATE_TABLE = """
CREATE TABLE {db}.all_types (
  id INT NOT NULL PRIMARY KEY,
  c_tinyint TINYINT, c_smallint SMALLINT, c_mediumint MEDIUMINT, c_int INT, c_bigint BIGINT,
  c_tinyint_u TINYINT UNSIGNED, c_smallint_u SMALLINT UNSIGNED, c_mediumint_u MEDIUMINT UNSIGNED,
  c_int_u INT UNSIGNED, c_bigint_u BIGINT UNSIGNED,
  c_decimal DECIMAL(30,10), c_float FLOAT, c_double DOUBLE,
  c_bit1 BIT(1), c_bit12 BIT(12),
  c_enum ENUM('a', 'it''s', 'z'), c_set SET('x', 'y', 'z'),
  c_year YEAR, c_date DATE, c_time TIME(6), c_datetime DATETIME(6), c_timestamp TIMESTAMP(6) NULL DEFAULT NULL,
  c_char CHAR(10), c_varchar VARCHAR(64) CHARACTER SET utf8mb4, c_8bit VARCHAR(32) CHARACTER SET {other_charset},
  c_text TEXT,
  c_binary BINARY(4), c_varbinary VARBINARY(16), c_blob BLOB,
  c_json JSON
) DEFAULT CHARSET = utf8mb4
"""

COLUMNS = (
    "id, c_tinyint, c_smallint, c_mediumint, c_int, c_bigint, c_tinyint_u, c_smallint_u, c_mediumint_u, c_int_u,"
    " c_bigint_u, c_decimal, c_float, c_double, c_bit1, c_bit12, c_enum, c_set, c_year, c_date, c_time,"
    " c_datetime, c_timestamp, c_char, c_varchar, c_8bit, c_text, c_binary, c_varbinary, c_blob, c_json"
)

# The TIMESTAMP instants (UTC). Each is inserted as the wall-clock time of the session's time zone, which
# differs per server; the rendered epoch must be the same on both.
INSTANTS = {
    1: datetime(2020, 11, 24, 16, 1, 2, 12345, tzinfo=timezone.utc),  # 2020-11-25 00:01:02.012345 +08:00
    2: datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc),  # the smallest TIMESTAMP
    3: datetime(2038, 1, 19, 3, 14, 7, 500000, tzinfo=timezone.utc),  # near the largest TIMESTAMP
}
EXPECTED_EPOCH = {1: "1606233662.012345", 2: "1", 3: "2147483647.5"}


def _rows(tz: timedelta) -> list[str]:
    """The VALUES tuples; TIMESTAMP literals are the instants' wall-clock time in a session at ``tz``."""

    def ts(i: int) -> str:
        return "'" + (INSTANTS[i] + tz).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") + "'"

    return [
        # minimums, negatives, empty SET, negative TIME, 0x00 bytes
        "(1, -128, -32768, -8388608, -2147483648, -9223372036854775808, 0, 0, 0, 0, 0,"
        " -12345.6789, -1.5, -0.1, b'0', b'000000000001', 'it''s', '', 1901, '1000-01-01',"
        f" '-838:59:59.000000', '1000-01-01 00:00:00.000000', {ts(1)}, 'abc', '中文😀 ok', 'café', "
        " 'line1\\nline2 \"quoted\" \\\\ end', X'0100', X'00FF00', X'DEADBEEF00',"
        " '{\"b\": [1, 2.50, \"x\"], \"a\": null}')",
        # maximums, multiple SET members, TIME above 24 h
        "(2, 127, 32767, 8388607, 2147483647, 9223372036854775807, 255, 65535, 16777215, 4294967295,"
        " 18446744073709551615, 12345678901234567890.1234567890, 1.2222, 9.999999999999, b'1',"
        " b'111111111111', 'z', 'z,x', 2155, '9999-12-31', '100:00:00.500000', '9999-12-31 23:59:59.999999',"
        f" {ts(2)}, 'padded    ', '𝄞 €', 'Ångström €', 'plain', X'00000000', X'', X'', '[]')",
        # ordinary values, trailing zeros, all SET members
        "(3, 0, 1, -1, 42, 1, 1, 2, 3, 4, 9223372036854775808, 100.1, 3.40282e38, 1e-308, b'0',"
        " b'101010101010', 'a', 'x,y,z', 2024, '2024-02-29', '00:00:01.120000', '2024-05-01 08:00:00.000000',"
        f" {ts(3)}, '', '', '', '', X'61626364', X'68656C6C6F', X'00', '{{\"k\": \"中\", \"n\": 1.0}}')",
        # NULL in every nullable column
        "(4" + ", NULL" * 30 + ")",
    ]


@pytest.fixture(params=sorted(SERVERS))
def server(request, airflow_conn_env, unique_name):
    """The server under test: creates a fresh database with the table filled; yields its description."""
    spec = SERVERS[request.param]
    connect = request.getfixturevalue(spec.conn)
    db = unique_name(f"golden_{request.param}")
    cur = connect().cursor()
    cur.execute(f"CREATE DATABASE {db}")
    cur.execute(CREATE_TABLE.format(db=db, other_charset=spec.other_charset))
    offset = int(spec.tz.total_seconds() // 3600)
    cur.execute(f"SET time_zone = '{offset:+03d}:00'")
    for values in _rows(spec.tz):
        cur.execute(f"INSERT INTO {db}.all_types ({COLUMNS}) VALUES {values}")
    yield SimpleNamespace(name=request.param, db=db, cursor=cur, **vars(spec))
    cur.execute(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture(params=["server", "python"])
def path(request, monkeypatch):
    """The rendering path under test; checks after the test that the server path was really taken."""
    plans = []
    real_plan = render_sql.plan

    def spy(ctx, fix):
        found = real_plan(ctx, fix)
        plans.append(found[0])
        return found

    monkeypatch.setattr(render_sql, "plan", spy)
    yield request.param
    if request.param == "server":
        assert plans and all(plan is not None for plan in plans), "the server path was not taken"
        assert all(plan.python_columns == ("c_float", "c_double") for plan in plans)
    else:
        assert not plans


class ExactNumber(str):
    """A JSON number with a fraction or exponent, kept as its exact text (`100.1000000000` is not `100.1`)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactNumber) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"number {str(self)}"


def _parse(text: str | bytes) -> object:
    """Parse JSON keeping every non-integer number as its exact text; integers are exact Python ints."""
    return json.loads(text, parse_float=ExactNumber)


def _dump(data: object) -> bytes:
    """Golden file text: indented JSON, UTF-8, every ExactNumber written back as the same number token."""

    def default(obj: object) -> object:
        if isinstance(obj, ExactNumber):
            return orjson.Fragment(str(obj))
        raise TypeError(type(obj).__name__)

    return orjson.dumps(data, default=default, option=orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_SUBCLASS) + b"\n"


def _sync(server, path: str) -> list:
    """Schema sync, plan and every chunk, with the server as the source; returns the topic's messages."""
    topic = f"{server.db}.all_types"
    project = parse_project(
        {
            "name": server.db,
            "sync_types": ["schema", "full"],
            "source": {"conn_id": server.conn_id},
            "objects": [{"database": server.db, "tables": ["all_types"], "topic": {"mode": "new", "name": topic}}],
        }
    )
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="golden"), "run_id": server.db}
    for work in FullSyncPlanOperator(task_id="plan", project=project, chunk_size=1000).execute(context):
        FullSyncOperator(
            task_id="full_sync", project=project, work=work, render_on_server=path == "server"
        ).execute({})
    return KafkaHook().read_committed(topic, timeout=60)


def _normalized(messages: list, db: str) -> list[dict]:
    """Key and parsed value of each message, by id, with the run's database name replaced by a placeholder."""
    out = []
    for message in messages:
        value = _parse(message.value())
        assert value["allMetaData"]["db"] == db
        value["allMetaData"]["db"] = DB_PLACEHOLDER
        out.append({"key": None if message.key() is None else message.key().decode(), "value": value})
    return sorted(out, key=lambda m: m["value"]["postStruct"]["id"])


def test_full_sync_default_messages_match_golden(server, path):
    messages = _sync(server, path)
    assert len(messages) == 4
    got = _normalized(messages, server.db)
    golden_file = GOLDEN_DIR / f"full_default_{server.name}.json"
    if REGENERATE and path == "python":  # both paths must then match what the Python path wrote
        golden_file.write_bytes(_dump(got))
    expected = _parse(golden_file.read_bytes())

    # Fields that hold for every message, whatever the golden file says.
    for message in got:
        meta = message["value"]["allMetaData"]
        assert meta["dbType"] == server.db_type
        assert meta["table_name"] == "all_types" and meta["record_primary_key"] == "id"
        assert message["value"]["recordType"] == "ROW" and message["value"]["prevStruct"] is None
        assert message["key"] == meta["record_primary_value"] == str(message["value"]["postStruct"]["id"])

    # TIMESTAMP: the same instants, inserted in different session time zones, render the same epoch.
    for message in got[:3]:
        row = message["value"]["postStruct"]
        assert row["c_timestamp"] == EXPECTED_EPOCH[row["id"]]
        assert EXPECTED_EPOCH[row["id"]] == _epoch_text(INSTANTS[row["id"]])

    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"message {position} (id {want['value']['postStruct']['id']}) differs from the golden file"


def test_exact_numbers_are_written_as_exact_json_numbers(server, path):
    """DECIMAL and BIGINT UNSIGNED are exact JSON number tokens in the raw bytes, never floats or strings."""
    raw = {json.loads(m.value())["postStruct"]["id"]: m.value() for m in _sync(server, path)}
    assert b'"c_bigint_u":18446744073709551615,' in raw[2]
    assert b'"c_decimal":12345678901234567890.1234567890,' in raw[2]
    assert b'"c_bigint":-9223372036854775808,' in raw[1]
    assert b'"c_decimal":-12345.6789000000,' in raw[1]
    assert b'"c_decimal":100.1000000000,' in raw[3]
    assert b'"c_bigint_u":9223372036854775808,' in raw[3]


def _epoch_text(instant: datetime) -> str:
    """The documented TIMESTAMP text: epoch seconds, the fraction without trailing zeros."""
    whole = int(instant.timestamp())
    return f"{whole}.{instant.microsecond:06d}".rstrip("0").rstrip(".")


def test_sql_the_server_rejects_falls_back_to_python(server, monkeypatch):
    """A rendering SELECT the server cannot run (here an unknown function) leaves the table to Python."""
    real = json_sql

    def broken(column, name, fix):
        sql = real(column, name, fix)
        return None if sql is None else f"obkafka_no_such_function({sql})"

    monkeypatch.setattr(render_sql, "json_sql", broken)
    got = _normalized(_sync(server, "server"), server.db)
    assert got == _parse((GOLDEN_DIR / f"full_default_{server.name}.json").read_bytes())
