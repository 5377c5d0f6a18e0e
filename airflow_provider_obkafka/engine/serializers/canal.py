"""
The OMS "Canal" serialization method (reference §6): Canal's flat message (`FlatMessage`, what Canal writes
to Kafka with `flatMessage=true`), with OMS's documented differences: values rendered as the Default family
renders them (numbers as JSON numbers, bytes as Base64, TIMESTAMP as `"<epoch s>.<frac>"`), `mysqlType` the
lower-case base type name, `database` without the tenant, one row per message. Upstream Canal's `id` is
written too, so a consumer of Canal's own class finds every field. Rules and choices: docs/formats.md,
section Canal.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from airflow_provider_obkafka.engine.changes.change import RecordType
from airflow_provider_obkafka.engine.serializers import SharedKeySerializer
from airflow_provider_obkafka.engine.serializers.default import change_images

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.changes.change import Image, RowChange, TableContext
    from airflow_provider_obkafka.engine.serializers import SortSequence
    from airflow_provider_obkafka.models.schema import Column

__all__ = ["CanalSerializer", "mysql_type", "sql_type"]

# Record type -> Canal `type`. Canal has no snapshot type: a full-sync row is an INSERT, as OMS does for
# Debezium (`op:"c"` for full and insert, §1.1), so a Canal consumer applies it unchanged.
_TYPES = {
    RecordType.ROW: "INSERT", RecordType.INSERT: "INSERT", RecordType.UPDATE: "UPDATE",
    RecordType.DELETE: "DELETE", RecordType.HEARTBEAT: "HEARTBEAT",
}  # fmt: skip
# java.sql.Types codes. Where OMS shows a code (§6.1 example) it is used (FLOAT 6, where Canal writes REAL 7);
# else Canal's own (RowsLogBuffer / LogEventConvert: YEAR VARCHAR, TEXT CLOB, binary and GEOMETRY BLOB, JSON
# VARCHAR); ENUM and SET carry their member text here, so CHAR as JDBC reports them (Canal's binlog codes
# INTEGER and BIT describe the index it writes, not text).
_SQL_TYPES = {
    "tinyint": -6, "smallint": 5, "mediumint": 4, "int": 4, "integer": 4, "bigint": -5, "year": 12,
    "bool": -6, "boolean": -6, "decimal": 3, "numeric": 3, "dec": 3, "fixed": 3, "float": 6, "double": 8,
    "real": 8, "double precision": 8, "bit": -7, "char": 1, "nchar": 1, "varchar": 12, "nvarchar": 12,
    "tinytext": 2005, "text": 2005, "mediumtext": 2005, "longtext": 2005, "enum": 1, "set": 1, "json": 12,
    "binary": 2004, "varbinary": 2004, "tinyblob": 2004, "blob": 2004, "mediumblob": 2004, "longblob": 2004,
    "date": 91, "time": 92, "datetime": 93, "timestamp": 93,
}  # fmt: skip
_SPATIAL = frozenset(
    "geometry point linestring polygon multipoint multilinestring multipolygon geometrycollection "
    "geomcollection".split()
)
_OTHER = 1111  # java.sql.Types.OTHER


def sql_type(column: Column) -> int:
    """
    The column's `java.sql.Types` code in `sqlType`, from the base type as OMS maps it: UNSIGNED does not
    change it (OMS's example gives a BIGINT holding 10223372036854775806 the code -5).
    """
    name = column.data_type.lower()
    if name in ("char", "varchar") and (column.charset or "").lower() == "binary":
        return 2004
    return 2004 if name in _SPATIAL else _SQL_TYPES.get(name, _OTHER)


def mysql_type(column: Column) -> str:
    """The column's `mysqlType`: the lower-case base type name, as OMS writes it (`varchar`, `decimal`)."""
    return column.data_type.lower()


class _Table(NamedTuple):
    """What is constant in a table's messages, JSON-encoded once."""

    sql_types: orjson.Fragment
    mysql_types: orjson.Fragment
    pk_names: orjson.Fragment


def _table(ctx: TableContext) -> _Table:
    found: _Table | None = ctx.cache.get("canal")
    if found is None:
        columns = [ctx.schema.column(name) for name in ctx.columns]
        found = ctx.cache["canal"] = _Table(
            orjson.Fragment(orjson.dumps({c.name: sql_type(c) for c in columns})),
            orjson.Fragment(orjson.dumps({c.name: mysql_type(c) for c in columns})),
            orjson.Fragment(orjson.dumps(list(ctx.key_columns) if ctx.key_columns else None)),
        )
    return found


def _row_image(change: RowChange) -> Image | None:
    """
    The image `data` shows: the after image, the deleted row for DELETE. The images a change must have, and
    the error when one is missing, are Default's (an UPDATE needs its before image for `old`).
    """
    before, after = change_images(change)
    return before if change.record_type is RecordType.DELETE else after


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class CanalSerializer(SharedKeySerializer):
    """
    OMS Canal: one Canal flat message per change; the Kafka key is the shared one (Canal itself sends none).

    :param intra_transaction_sequence: accepted for a uniform factory signature; Canal's `id` carries
        the sort sequence either way (docs/formats.md, section Canal)
    :param sequence: what gives `id` (`SharedKeySerializer`)
    :param clock: the current time in epoch milliseconds, for `ts` (tests pass a fixed one)
    """

    name = "Canal"

    def __init__(
        self, *, intra_transaction_sequence: bool = False, sequence: SortSequence | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(intra_transaction_sequence=intra_transaction_sequence, sequence=sequence)
        self._clock = clock or _now_ms

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The Canal flat message of a change."""
        image = _row_image(change)
        try:
            return self._encode(change, ctx, image, ctx.render_image_fast)
        except (TypeError, ValueError):  # an unusual value type: render every value (names a failing column)
            return self._encode(change, ctx, image, ctx.render_image)

    def _encode(
        self,
        change: RowChange,
        ctx: TableContext,
        image: Image | None,
        render: Callable[[Image], dict[str, Any]],
    ) -> bytes:
        table = _table(ctx) if image is not None else None
        ts = self._clock()
        commit = change.commit_ts_us
        message = {
            "id": self.sequence(change) or 0,
            "database": ctx.database,
            "sqlType": None if table is None else table.sql_types,
            "data": None if image is None else [render(image)],
            "pkNames": None if table is None else table.pk_names,
            "old": _old(change, ctx, render) if change.record_type is RecordType.UPDATE else None,
            "mysqlType": None if table is None else table.mysql_types,
            "type": _TYPES[change.record_type],
            "table": ctx.table,
            "es": ts if commit is None else commit // 1000,
            "isDdl": False,
            "ts": ts,
            "sql": "",
        }
        if ctx.business_system_id is not None:
            message["businessSystemId"] = ctx.business_system_id
        return orjson.dumps(message)


def _old(change: RowChange, ctx: TableContext, render: Callable[[Image], dict[str, Any]]) -> list[Any] | None:
    """UPDATE `old`: the changed columns with their before values; None when no selected column changed."""
    before, after = change.before, change.after
    if before is None or after is None:  # _row_image checked it already
        raise ValueError(f"UPDATE change of {change.database}.{change.table} lacks an image")
    changed = [
        name
        for name, was, now in zip(ctx.columns, ctx.select(before), ctx.select(after), strict=True)
        if was != now
    ]
    if not changed:
        return None
    rendered = render(before)
    return [{name: rendered[name] for name in changed}]
