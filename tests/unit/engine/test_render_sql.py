"""Server rendering without a server: the SQL it writes per column type, the JSON_QUOTE probe, and the row
encoder's bytes against the Default serializer for rows shaped as the server returns them.

Whether the server evaluates the SQL to the same bytes is proven on seekdb and MariaDB in
tests/integration/test_full_sync_fast_path.py.
"""

from __future__ import annotations

import orjson
import pytest

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.snapshot.render import plan
from airflow_provider_obkafka.engine.snapshot.render_columns import (
    _PROBE_CHARS,
    json_quote_sql,
    json_sql,
    probe_json_quote,
    sql_text,
)
from airflow_provider_obkafka.models.schema import Column, TableSchema


def col(name: str, data_type: str, column_type: str | None = None, **kwargs) -> Column:
    return Column(name=name, position=1, data_type=data_type, column_type=column_type or data_type, **kwargs)


def schema(*columns: Column, key: tuple[str, ...] = ("id",)) -> TableSchema:
    return TableSchema(database="shop", table="orders", columns=columns, primary_key=key)


def python_path(table: TableSchema, image: tuple, **options) -> tuple[bytes | None, bytes]:
    """Key and value of the Python path (what FullSyncOperator's Python encoder produces)."""
    ctx = build_table_context(table, **options)
    change = RowChange("shop", "orders", RecordType.ROW, ctx.image_columns, None, image, ctx.key_columns)
    return DefaultSerializer().key(change, ctx), DefaultSerializer().value(change, ctx)


def test_sql_text_is_plain_only_for_simple_ascii_and_never_holds_quotes_backslashes_or_percent():
    assert sql_text('{"id":') == "'{\"id\":'"
    for text in ("it's", "a\\b", "50%", "中", "\x01"):
        literal = sql_text(text)
        assert literal.startswith("CONVERT(X'")
        assert literal.endswith("' USING utf8mb4)")
        assert bytes.fromhex(literal[10:-16]).decode() == text
        assert not set("'\\%") & set(literal[10:-16])


def test_json_quote_fix_keeps_escaped_backslashes_aside():
    assert json_quote_sql("x", ()) == "CONVERT(JSON_QUOTE(x) USING utf8mb4)"
    fixed = json_quote_sql("x", (("\\u001F", "\\u001f"),))
    nul = "CHAR(0 USING utf8mb4)"
    backslashes, upper, lower = sql_text("\\\\"), sql_text("\\u001F"), sql_text("\\u001f")
    assert fixed == (
        f"REPLACE(REPLACE(REPLACE(CONVERT(JSON_QUOTE(x) USING utf8mb4), {backslashes}, {nul}), "
        f"{upper}, {lower}), {nul}, {backslashes})"
    )


@pytest.mark.parametrize(
    ("column", "sql"),
    [
        (col("a", "int", nullable=False), "CAST(`a` AS CHAR)"),
        (col("a", "year"), "IF(`a` IS NULL, 'null', CAST(`a` + 0 AS CHAR))"),
        (col("a", "decimal", "decimal(10,2)", nullable=False), "CAST(`a` AS CHAR)"),
        (col("a", "date", nullable=False), "CONCAT('\"', CAST(`a` AS CHAR), '\"')"),
        (col("a", "time", fractional_seconds=0, nullable=False), "CONCAT('\"', CAST(`a` AS CHAR), '\"')"),
        (
            col("a", "datetime", fractional_seconds=3, nullable=False),
            "CONCAT('\"', TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(`a` AS CHAR))), '\"')",
        ),
        (
            col("a", "timestamp", fractional_seconds=0, nullable=False),
            "CONCAT('\"', IF(`a` = 0, '0000-00-00 00:00:00', "
            "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', `a`)), '\"')",
        ),
        (col("a", "varchar", charset="utf8mb4", nullable=False), "CONVERT(JSON_QUOTE(`a`) USING utf8mb4)"),
        (
            col("a", "varchar", charset="latin1", nullable=False),
            "CONVERT(JSON_QUOTE(CONVERT(`a` USING utf8mb4)) USING utf8mb4)",
        ),
        (
            col("a", "binary", "binary(4)", length=4, nullable=False),
            "CONCAT('\"', REPLACE(TO_BASE64(RPAD(`a`, 4, X'00')), CHAR(10 USING utf8mb4), ''), '\"')",
        ),
        (
            col("a", "bit", "bit(12)", precision=12, nullable=False),
            "CONCAT('\"', TO_BASE64(UNHEX(LPAD(HEX(`a`), 4, '0'))), '\"')",
        ),
    ],
)
def test_column_json_sql(column, sql):
    assert json_sql(column, "`a`", ()) == sql


def test_timestamp_with_a_fraction_and_temporal_of_unknown_precision():
    ts = json_sql(col("a", "timestamp", fractional_seconds=6), "`a`", ())
    assert (
        ts.startswith("IF(`a` IS NULL, 'null', ")
    )
    assert (
        "DATE_FORMAT(`a`, '.%%f')" in ts
    )
    assert (
        "TRIM(TRAILING '0'" in ts
    )
    unknown = json_sql(col("a", "datetime", nullable=False), "`a`", ())
    assert "IF(LOCATE('.', CAST(`a` AS CHAR)) > 0" in unknown


@pytest.mark.parametrize("data_type", ["float", "double", "geometry", "vector"])
def test_types_the_server_cannot_write_identically_are_left_to_python(data_type):
    assert json_sql(col("a", data_type), "`a`", ()) is None


def test_strings_go_to_python_when_json_quote_cannot_be_fixed():
    assert json_sql(col("a", "varchar"), "`a`", None) is None
    assert json_sql(col("a", "int"), "`a`", None) is not None


def test_plan_splits_the_post_struct_around_python_columns_and_doubles_percent_in_names():
    table = schema(
        col("id", "int", nullable=False), col("50%", "varchar"), col("f", "double"), col("note", "text"),
    )  # fmt: skip
    found, reason = plan(build_table_context(table), ())
    assert reason == ""
    assert found.python_columns == ("f",)
    key, head, raw, tail = found.expressions
    assert key == "CAST(CAST(`id` AS CHAR) AS BINARY)"
    assert head.startswith("CAST(CONCAT('{\"id\":', CAST(`id` AS CHAR), ")
    assert "`50%%`" in head
    assert raw == "`f`"
    assert tail.endswith(", '}') AS BINARY)")


def test_plan_refuses_a_key_the_server_cannot_write():
    table = schema(col("id", "double", nullable=False), col("v", "int"))
    assert plan(build_table_context(table), ()) == (
        None,
        "key or shard column(s) id cannot be rendered on the server",
    )


def test_encoder_gives_the_default_serializer_bytes():
    table = schema(
        col("id", "int", nullable=False), col("name", "varchar"), col("f", "double"), col("n", "text")
    )
    found, _ = plan(build_table_context(table), ())
    server_row = (b"7", b'{"id":7,"name":"a\\"b\xc3\xa9","f":', 1.5, b',"n":null}')
    assert found.encode(server_row) == python_path(table, (7, 'a"bé', 1.5, None))
    server_row = (b"8", b'{"id":8,"name":null,"f":', None, b',"n":"x"}')
    assert found.encode(server_row) == python_path(table, (8, None, None, "x"))


def test_encoder_quotes_composite_and_text_keys_like_the_serializer():
    table = schema(col("id", "int", nullable=False), col("day", "date", nullable=False), key=("id", "day"))
    found, _ = plan(build_table_context(table), ())
    row = (b"7\x012024-01-02", b'{"id":7,"day":"2024-01-02"}')
    assert found.encode(row) == python_path(table, (7, "2024-01-02"))
    table = schema(col("id", "varchar", nullable=False), col("v", "int"))
    found, _ = plan(build_table_context(table), ())
    row = ('a"\x01中'.encode(), '{"id":"a\\"\\u0001中","v":null}'.encode())
    assert found.encode(row) == python_path(table, ('a"\x01中', None))


def test_encoder_with_shard_columns_and_without_a_key():
    table = schema(col("id", "int", nullable=False), col("region", "varchar"))
    found, _ = plan(build_table_context(table, shard_columns=["region"]), ())
    assert found.encode((b"7", b"eu", b'{"id":7,"region":"eu"}')) == python_path(
        table, (7, "eu"), shard_columns=["region"]
    )
    keyless = schema(col("a", "int"), key=())
    found, _ = plan(build_table_context(keyless), ())
    assert (
        found.encode((b'{"a":1}',)) == python_path(keyless, (1,))
    )
    assert (
        found.encode((b'{"a":1}',))[0] is None
    )


class FakeServer:
    """A cursor answering the probe like a server whose JSON_QUOTE is `quote`; REPLACE as SQL does it."""

    def __init__(self, quote):
        self.quote = quote
        self.result = None

    def execute(self, sql):
        if sql.startswith("SELECT JSON_QUOTE("):
            self.result = tuple(self.quote(char) for char in _PROBE_CHARS)
            return
        whole = "".join(_PROBE_CHARS) + '\\u000B\\\\u001F"x'
        text = self.quote(whole).replace("\\\\", "\x00")
        for server, wanted in self.fix_in(sql):
            text = text.replace(server, wanted)
        self.result = (text.replace("\x00", "\\\\"),)

    @staticmethod
    def fix_in(sql):
        literals = [bytes.fromhex(part.split("'")[0]).decode() for part in sql.split("CONVERT(X'")[1:]]
        pairs = literals[2:-1]  # whole, then backslashes, then the pairs, then the final backslashes
        return list(zip(pairs[::2], pairs[1::2], strict=True))

    def fetchone(self):
        return self.result


def orjson_quote(text):
    return orjson.dumps(text).decode()


def upper_hex_quote(text):
    """MariaDB's JSON_QUOTE: like orjson, but `\\u001F` in capitals."""
    out = orjson_quote(text)
    for code in range(32):
        out = out.replace(f"\\u{code:04x}", f"\\u{code:04X}")
    return out


def test_probe_finds_no_fix_uppercase_escapes_or_no_way():
    assert probe_json_quote(FakeServer(orjson_quote)) == ()
    fix = probe_json_quote(FakeServer(upper_hex_quote))
    assert ("\\u001F", "\\u001f") in fix
    assert ("\\u000B", "\\u000b") in fix
    assert len(fix) == 9
    escapes_non_ascii = lambda text: orjson_quote(text).replace("é", "\\u00e9")  # noqa: E731
    assert probe_json_quote(FakeServer(escapes_non_ascii)) is None
    unescaped_slash = lambda text: orjson_quote(text).replace("\\\\", "\\")  # noqa: E731
    assert probe_json_quote(FakeServer(unescaped_slash)) is None
