"""The pure parts of seeking a time in the change log: choosing the file, derived replica ids, the error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_obkafka.engine.binlog.seek import (
    _is_oceanbase,
    choose_file,
    derived_server_id,
    too_early_error,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILES = [f"binlog.{i:06d}" for i in range(1, 11)]
STARTS = {name: T0 + timedelta(hours=i) for i, name in enumerate(FILES)}  # file i started at T0 + i h


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param(T0, 0, id="exactly-the-first-start"),
        pytest.param(T0 + timedelta(minutes=30), 0, id="inside-the-first"),
        pytest.param(T0 + timedelta(hours=3), 2, id="same-second-as-a-start-takes-the-file-before"),
        pytest.param(T0 + timedelta(hours=3, seconds=1), 3, id="just-after-a-start"),
        pytest.param(T0 + timedelta(hours=9, minutes=1), 9, id="inside-the-last"),
        pytest.param(T0 + timedelta(days=30), 9, id="after-everything"),
    ],
)
def test_choose_file_takes_the_last_file_started_before(when, expected):
    probed: list[str] = []

    def start_of(name: str) -> datetime:
        probed.append(name)
        return STARTS[name]

    assert choose_file(FILES, start_of, when) == expected
    assert len(probed) <= 4, "binary search: about log2(10) probes, not a scan of every file"


def test_a_file_whose_start_is_unreadable_counts_as_not_before():
    starts = dict(STARTS, **{FILES[5]: None})
    # file 5 unreadable: the search may only move to an earlier file, which is always safe to scan from
    assert choose_file(FILES, starts.get, T0 + timedelta(hours=5, minutes=30)) <= 5


def test_single_file():
    assert choose_file(FILES[:1], STARTS.get, T0 + timedelta(days=1)) == 0


def test_derived_server_id_is_stable_distinct_and_in_range():
    ids = {derived_server_id(4242, purpose) for purpose in ("seek", "backfill/a", "backfill/b")}
    assert len(ids) == 3
    assert 4242 not in ids
    assert derived_server_id(4242, "seek") == derived_server_id(4242, "seek")
    assert all(1 <= i <= 2**32 - 1 for i in ids)


def test_too_early_error_says_what_to_do():
    message = str(too_early_error(T0, T0 + timedelta(hours=2), "binlog.000007"))
    assert message == (
        "the change log no longer reaches back to 2026-01-01T00:00:00+00:00; its earliest event is "
        "2026-01-01T02:00:00+00:00 in binlog.000007; choose a later start timestamp or run a full "
        "synchronization"
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("5.7.35-obs", True),
        ("5.7.25-OceanBase_CE-v4.2.1.2", True),
        ("10.11.6-MariaDB-0+deb12u1-log", False),
        ("8.0.36", False),
    ],
)
def test_oceanbase_is_told_by_the_handshake_version(version, expected):
    assert _is_oceanbase(version) is expected
