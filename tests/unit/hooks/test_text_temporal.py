"""The bulk-read conversions keep temporal values as server text, shaped as the renderers write them."""

from __future__ import annotations

from datetime import datetime

import pytest

from airflow_provider_obkafka.hooks.oceanbase_stream import _timestamp, _trimmed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06 07:08:09.120000", "2024-05-06 07:08:09.12"),
        ("2024-05-06 07:08:09.000", "2024-05-06 07:08:09"),
        ("2024-05-06 07:08:00", "2024-05-06 07:08:00"),
        ("-838:59:59.000000", "-838:59:59"),
        ("10:00:00", "10:00:00"),
        ("00:00:01.500000", "00:00:01.5"),
        ("0000-00-00 00:00:00", "0000-00-00 00:00:00"),
    ],
)
def test_trimmed(text, expected):
    assert _trimmed(text) == expected


def test_timestamp_text():
    assert _timestamp("2020-11-24 16:01:02.012345") == datetime(2020, 11, 24, 16, 1, 2, 12345)
    assert _timestamp("2020-11-24 16:01:02.5") == datetime(2020, 11, 24, 16, 1, 2, 500000)
    assert _timestamp("0000-00-00 00:00:00") == "0000-00-00 00:00:00"
