"""GTID sets: parsing, following transaction by transaction, and the MySQL dump payload."""

from __future__ import annotations

import pytest
from pymysqlreplication.gtid import GtidSet

from airflow_provider_obkafka.engine.binlog.gtid import (
    GtidTracker,
    covers,
    executed_in,
    flavor_of,
    mysql_gtid_set_payload,
)
from airflow_provider_obkafka.exceptions import ConfigError

U = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
V = "4e11fa47-71ca-11e1-9e33-c80aa9429563"

A = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
B = "0a1b2c3d-0000-4000-8000-000000000001"


def test_flavors():
    assert flavor_of(f"{A}:1-5") == "mysql"
    assert flavor_of("0-1-100,1-2-7") == "mariadb"
    assert flavor_of("0-1-100", "mysql") == "mysql"


def test_mysql_set_follows_transactions():
    tracker = GtidTracker(f"{A.upper()}:1-5:7, {B}:3")
    assert str(tracker) == f"{B}:3,{A}:1-5:7"  # normalised: lower case, sorted, single numbers bare
    for number in (6, 8, 9):  # 6 closes the gap, 8 and 9 extend
        tracker.add(f"{A}:{number}")
    tracker.add(f"{B}:10")
    assert str(tracker) == f"{B}:3:10,{A}:1-9"
    tracker.add(f"{A}:4")  # already executed: no change
    assert str(tracker) == f"{B}:3:10,{A}:1-9"


def test_mariadb_set_keeps_the_last_gtid_per_domain():
    tracker = GtidTracker("0-1-100,1-2-7", "mariadb")
    tracker.add("0-1-101")
    tracker.add("2-1-1")
    tracker.add("0-3-102")  # another server id in domain 0 after a failover
    assert str(tracker) == "0-3-102,1-2-7,2-1-1"


@pytest.mark.parametrize("bad", [f"{A}", f"{A}:0-3", f"{A}:5-3", "not-a-uuid:1-3"])
def test_bad_mysql_sets_name_the_value(bad):
    with pytest.raises(ConfigError, match=r"GTID set .*has no valid interval|GTID set .*is not uuid"):
        GtidTracker(bad, "mysql")


def test_bad_mariadb_set():
    with pytest.raises(ConfigError, match="'0-1' is not domain-server-sequence"):
        GtidTracker("0-1", "mariadb")


def test_dump_payload_matches_the_protocol_encoding_one_short_per_interval():
    """
    Each interval's last transaction is left out (sent again, skipped by the reader): obbinlog's
    `seek_first_binlog_file` would otherwise start past it when it ends a file (off-by-one); a sid whose only
    interval is one transaction long is left out whole. Sids sorted.
    """
    assert mysql_gtid_set_payload(f"{A}:1-5:7-9,{B}:3") == GtidSet(f"{A}:1-4:7-8").encoded()
    assert mysql_gtid_set_payload(f"{A}:1-5,{B}:2-3") == GtidSet(f"{B}:2,{A}:1-4").encoded()
    assert mysql_gtid_set_payload(f"{A}:1") == GtidSet("").encoded()


def test_executed_in_tells_the_transactions_of_the_set():
    executed = executed_in(f"{A}:1-5:7-9,{B}:3")
    assert [n for n in range(1, 11) if executed(f"{A}:{n}")] == [1, 2, 3, 4, 5, 7, 8, 9]
    assert executed(f"{B}:3") and not executed(f"{B}:4") and not executed(f"{V}:1")


@pytest.mark.parametrize(
    ("bigger", "smaller", "expected"),
    [
        ("0-1-100", "0-1-99", True), ("0-1-100", "0-1-100", True), ("0-1-99", "0-1-100", False),
        ("0-1-100,1-2-5", "1-2-5", True), ("0-1-100", "0-1-50,1-2-1", False), ("0-2-100", "0-1-100", True),
        (f"{U}:1-100", f"{U}:1-99", True), (f"{U}:1-100", f"{U}:1-100", True), (f"{U}:1-99", f"{U}:1-100", False),
        (f"{U}:1-10:20-30", f"{U}:1-5:21-25", True), (f"{U}:1-10:20-30", f"{U}:9-21", False),
        (f"{U}:1-100", f"{U}:1-5,{V}:1", False), (f"{U}:1-100,{V}:1-3", f"{V}:2", True),
    ],
)  # fmt: skip
def test_covers(bigger, smaller, expected):
    """The order of two positions read by GTID: the later one's executed set holds the earlier one's."""
    assert covers(bigger, smaller) is expected
