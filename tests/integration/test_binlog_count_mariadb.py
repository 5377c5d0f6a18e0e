"""Counting rows without decoding them gives the decoder's count, for every column type, on each source."""

from __future__ import annotations

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.transactions import Commit
from airflow_provider_obkafka.engine.changes.change import RowChange

COLUMNS = """
    id INT PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, bi BIGINT, f FLOAT, d DOUBLE,
    dec1 DECIMAL(20,6), dec2 DECIMAL(5,0), dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL,
    t TIME(2), dte DATE, y YEAR, c CHAR(10), vc VARCHAR(300), vb VARBINARY(20), bl BLOB, tx MEDIUMTEXT,
    j JSON, e ENUM('a','b'), st SET('x','y','z'), b BIT(10), g POINT NULL
"""
FULL = (
    "(%s, -5, 65000, -8000000, 9000000000, 1.5, 2.25, 12345678901234.123456, 99999, '2024-01-02 03:04:05', "
    "'2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.120', '-12:34:56.78', '2024-02-29', 2024, "
    "'char', REPEAT('v', 290), 0x0102, REPEAT('b', 1000), REPEAT('t', 70000), '{\"k\": [1, 2]}', 'b', "
    "'x,z', b'1010101010', POINT(1, 2))"
)
SPARSE = "(%s, " + ", ".join(["NULL"] * 15 + ["'v'"] + ["NULL"] * 8) + ")"


def _counts(source, start, db, **kwargs) -> tuple[list[int], list[RowChange]]:
    per_commit, changes, pending = [], [], 0
    describe = source.hook().describe_table if source.is_obbinlog else None  # obbinlog: no column names
    with BinlogReader(source.settings(), 6161, start, {(db, "t")}, blocking=False, describe=describe,
                      **kwargs) as reader:  # fmt: skip
        for item in reader.iter_changes():
            if isinstance(item, RowChange):
                pending += 1
                changes.append(item)
            elif isinstance(item, Commit) and pending:
                per_commit.append(pending)
                pending = 0
    return per_commit, changes


def test_count_only_matches_the_decoder_for_every_type(source, mariadb_database):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t ({COLUMNS})")
    start = source.position()
    rows = ", ".join(FULL % i if i % 3 else SPARSE % i for i in range(1, 301))
    cur.execute(f"INSERT INTO {db}.t VALUES {rows}")
    cur.execute(f"UPDATE {db}.t SET vc = NULL, j = NULL, ti = 7 WHERE id % 2 = 0")
    cur.execute(f"UPDATE {db}.t SET vc = REPEAT('w', 299) WHERE id % 5 = 0")
    cur.execute(f"DELETE FROM {db}.t WHERE id > 250")
    cur.execute(f"INSERT INTO {db}.t SELECT seq, NULL, 1, 1, 1, 1, 1, 1, 1, NOW(), NOW(6), NULL, '00:00:01', "
                f"CURDATE(), 2000, 'c', CONCAT('row', seq), NULL, '', '', NULL, 'a', '', b'1', NULL "
                f"FROM {db}.seq_1000_to_20999")  # fmt: skip
    source.caught_up()

    decoded, _ = _counts(source, start, db)
    counted, changes = _counts(source, start, db, count_only=True)

    assert decoded == [300, 150, 60, 50, 20_000]
    assert counted == decoded
    assert all(change.columns == () and change.after is None for change in changes), "counted, never decoded"
