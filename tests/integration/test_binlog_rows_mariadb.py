"""The fast row decoder (`engine/binlog/rows.py`) gives exactly the library decoder's images, on each source."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.models.position import BinlogPosition
from tests.integration.test_range_at_rotation import _rotate

COLUMNS = (
    "id INT PRIMARY KEY, t TINYINT, tu TINYINT UNSIGNED, s SMALLINT, su SMALLINT UNSIGNED, m MEDIUMINT, "
    "mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, b BIGINT, bu BIGINT UNSIGNED, f FLOAT, d DOUBLE, "
    "d1 DECIMAL(5,0), d2 DECIMAL(12,2), d3 DECIMAL(30,10), d4 DECIMAL(4,4), d5 DECIMAL(65,30), y YEAR, dt DATE, "
    "dtt DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), ts TIMESTAMP NULL, ts1 TIMESTAMP(1) NULL, tm TIME, "
    "tm2 TIME(2), tm5 TIME(5), c CHAR(3), vc VARCHAR(20), vl VARCHAR(400), l1 VARCHAR(5) CHARACTER SET latin1, "
    "bin BINARY(4), vb VARBINARY(300), tx TEXT, bl BLOB, mt MEDIUMTEXT, lb LONGBLOB, "
    "e ENUM('x','y','z'), st SET('a','b','c')"
)
ROWS = [
    "(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, "
    "18446744073709551615, 1.5, -2.25, -12345, -1234567890.12, -12345678901234567890.0123456789, -0.1234, -12345678901234567890123456789012345.123456789012345678901234567891, 2024, "
    "'2024-02-29', '2024-01-02 03:04:05', '2024-01-02 03:04:05.678', '1999-12-31 23:59:59.999999', "
    "'2024-01-02 03:04:05', '2024-01-02 03:04:05.9', '-838:59:59', '-01:02:03.45', '12:34:56.78901', 'ab', "
    "'héllo ✓', REPEAT('z', 400), 'café', 0x00ff0102, 0xdeadbeef, 'text ✓', 0x000102, 'mt', 0x0a0b, 'y', 'a,c')",
    "(2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '0000-00-00', '0000-00-00 00:00:00', "
    "'0000-00-00 00:00:00.000', '2024-00-00 00:00:00', '0000-00-00 00:00:00', NULL, '00:00:00', '00:00:00', "
    "'00:00:00', '', '', '', '', '', '', '', '', '', '', '', '')",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL)",
    "(4, 127, 1, 32767, 1, 8388607, 1, 2147483647, 1, 9223372036854775807, 1, -1e30, 1e300, 99999, "
    "9999999999.99, 99999999999999999999.9999999999, 0.0001, 0.000000000000000000000000000001, 1901, '1000-01-01', '9999-12-31 23:59:59', "
    "'2038-01-19 03:14:07.499', '1970-01-01 00:00:00.000001', '1970-01-01 00:00:01', '2038-01-19 03:14:07.5', "
    "'838:59:59', '00:00:00.01', '-00:00:00.00001', 'xyz', '', '', '', 0x00, '', '', '', '', '', 'z', '')",
]


def _read(source, start: BinlogPosition, tables: set, **kwargs) -> tuple[list[RowChange], int]:
    """The changes read, and how many rows events the library decoded (obbinlog: tables described)."""
    describe = source.hook().describe_table if source.is_obbinlog else None
    with BinlogReader(source.settings(), 4343, start, tables, describe=describe, **kwargs) as reader:
        return [item for item in reader.iter_changes() if isinstance(item, RowChange)], reader.library_decoded


@pytest.mark.parametrize("many", [False, True], ids=["row-per-statement", "multi-row-events"])
def test_fast_decoder_equals_library_decoder(mariadb_database, source, many):
    name, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
        cur.execute(f"CREATE TABLE {name}.all_types ({COLUMNS})")
        start = source.position()
        for row in ROWS:
            cur.execute(f"INSERT INTO {name}.all_types VALUES {row}")
        if many:
            cur.execute(f"INSERT INTO {name}.all_types SELECT id + 10, t, tu, s, su, m, mu, i, iu, b, bu, f, d, d1, "
                        f"d2, d3, d4, d5, y, dt, dtt, dt3, dt6, ts, ts1, tm, tm2, tm5, c, vc, vl, l1, bin, vb, tx, bl, mt, "
                        f"lb, e, st FROM {name}.all_types")  # fmt: skip
        cur.execute(f"UPDATE {name}.all_types SET vc = CONCAT(vc, '!'), d2 = -d2, tm = '-00:00:01'")
        cur.execute(f"DELETE FROM {name}.all_types WHERE id IN (2, 3, 12)")
        _rotate(source, cur, name)  # the counts cover every dump of the read (the double: one per file)
    tables = {(name, "all_types")}
    source.caught_up()
    fast, fast_library = _read(source, start, tables)
    slow, slow_library = _read(source, start, tables, fast_rows=False)
    assert fast_library == 0, "the fast decoder handles every event of this table"
    assert slow_library > 0, "the library decodes every event when fast_rows is off"
    if source.is_obbinlog:  # one row per rows event, across the files (a dump each): the library decoded each
        assert slow_library == len(slow)
    assert len(fast) == len(slow) == len(ROWS) * (2 if many else 1) * 2 + (3 if many else 2)
    for a, b in zip(fast, slow, strict=True):
        assert (a.record_type, a.sequence) == (b.record_type, b.sequence)
        for image_a, image_b in ((a.before, b.before), (a.after, b.after)):
            assert image_a == image_b
            if image_a is not None:
                assert [type(v) for v in image_a] == [type(v) for v in image_b]
                assert [str(v) for v in image_a] == [str(v) for v in image_b]
