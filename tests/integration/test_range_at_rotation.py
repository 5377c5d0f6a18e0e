"""
A range whose end is the start of a fresh binlog file (SHOW MASTER STATUS just after a rotation).

Seen in CI on the obbinlog double, which rotates at 64 KiB: the range ended at `mysql-bin.000064:195` (the
new file's first events: FORMAT_DESCRIPTION, PREVIOUS_GTIDS), and the task failed with "the change-log range
ends at mysql-bin.000064:195, inside the transaction ... (mysql-bin.000063:65702 to mysql-bin.000064:469)".
The next transaction's start was taken as the previous commit's end, before the ROTATE in the old file, so a
transaction that starts exactly at the range's end looked as if it straddled it. MariaDB rotates the same way
after `FLUSH BINARY LOGS`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from devservices.obbinlog.service import max_binlog_size
from tests.integration.incremental_helpers import produce, synced_table

PAD = 8000  # the most bytes a padding row holds: the double's 64 KiB files rotate after a few of them
HEADER_MAX = 400  # a file's first events end before this: FORMAT_DESCRIPTION and PREVIOUS_GTIDS (GTID_LIST ...)


def _rotate(source: Any, cur: Any, db: str) -> Any:
    """The log's end just after a rotation, before any later transaction: MariaDB flushes, the double fills."""
    if source.is_obbinlog:
        return _fill_to_rotation(source, cur, db)
    for _ in range(10):  # another test's write may land between the flush and the position: flush again
        cur.execute("FLUSH BINARY LOGS")
        end = source.position()
        if end.position < HEADER_MAX:
            return end
    raise AssertionError(f"every flush was followed by another write before SHOW MASTER STATUS (at {end})")


def _fill_to_rotation(source: Any, cur: Any, db: str) -> Any:
    """
    The double's log end just after a rotation: rows of an out-of-project table fill the file so that the last
    transaction of `source.position()`'s own marker takes it past `max_binlog_size`, and nothing follows.
    The sizes are exact (one row per rows event, a BLOB's bytes as written), so a few rounds find it.
    """
    limit = max_binlog_size()
    cur.execute(f"CREATE TABLE {db}.pad (id INT AUTO_INCREMENT PRIMARY KEY, b BLOB)")
    here = source.position()
    marker = overhead = None  # the bytes of a marker; of a pad transaction beyond its BLOB
    for _ in range(100):
        size = 100 if marker is not None and overhead is None else 0
        if marker is not None and overhead is not None:  # aim the marker's end 50 bytes past the limit
            size = min(PAD, limit + 50 - here.position - marker - overhead)
        if marker is not None and size > 0:
            cur.execute(f"INSERT INTO {db}.pad (b) VALUES (%s)", (b"x" * size,))
        end = source.position()
        if end.file != here.file:
            if end.position < HEADER_MAX:
                return end
            marker = overhead = None  # a pad or a marker's first statement rotated: measure again
        elif marker is None:
            marker = end.position - here.position
        elif overhead is None:
            overhead = end.position - here.position - marker - size
        here = end
    raise AssertionError(f"no marker ended a file of the double in 100 rounds (at {here})")


@pytest.mark.timeout(300)
def test_a_range_may_end_at_a_fresh_files_first_events(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    cur, project = synced_table(db, conn, source.conn_id)
    start = source.position()
    cur.execute(f"INSERT INTO {db}.t VALUES (1, 'one')")
    end = _rotate(source, cur, db)
    assert end.file != start.file, f"{end}: no rotation"
    assert end.position < HEADER_MAX, f"{end} is not the end of a new file's first events"
    cur.execute(f"INSERT INTO {db}.t VALUES (2, 'two')")  # starts at `end`: the next range's
    last = source.position()

    produce(project, start, end)
    produce(project, end, last)

    messages = KafkaHook().read_committed(f"{db}.t", timeout=60)
    ids = sorted(json.loads(m.value())["postStruct"]["id"] for m in messages)
    assert ids == [1, 2], "each row once"
