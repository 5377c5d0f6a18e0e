"""The largest possible row of a table from its column types, against Kafka's message size limits."""

from __future__ import annotations

from airflow_provider_obkafka.engine.precheck.report import Status
from airflow_provider_obkafka.engine.precheck.row_size import RowLimits, column_max_bytes, row_size_findings
from airflow_provider_obkafka.models.schema import Column


def _col(data_type: str, **kw) -> Column:
    return Column(name=data_type, position=1, data_type=data_type, column_type=data_type, **kw)


def test_column_widths():
    assert column_max_bytes(_col("int")) == 11
    assert column_max_bytes(_col("varchar", length=100, charset="utf8mb4")) == 400
    assert column_max_bytes(_col("char", length=10, charset="latin1")) == 10
    assert column_max_bytes(_col("decimal", precision=8, scale=2)) == 10
    assert column_max_bytes(_col("longblob", length=4294967295)) == 4294967295
    assert column_max_bytes(_col("json")) == 4294967295, "no length: up to 4 GiB"
    assert column_max_bytes(_col("enum", enum_values=("a", "bbb"))) == 12


def test_a_row_whose_update_outgrows_the_smallest_limit_is_a_warning_naming_each_limit():
    limits = RowLimits(1_000_000, (1, 1_048_588), {"t.small": 1_048_588, "t.big": 500})
    small, big = row_size_findings(
        [("db.small", "t.small", [_col("int")]), ("db.big", "t.big", [_col("varchar", length=100)])], limits
    )
    assert small.status is Status.OK
    assert big.status is Status.WARN
    assert big.found == ("db.big: largest possible row 400 bytes of values, 800 in an UPDATE (two images); the "
                         "producer's message.max.bytes 1000000, broker 1's message.max.bytes 1048588, topic "
                         "t.big's max.message.bytes 500")  # fmt: skip
    assert "a row over 500 bytes fails its task for good" in big.fix and "at least 800 bytes" in big.fix
    assert "oversize_rows: skip or dead_letter" in big.fix, "the way out without raising the limits"
