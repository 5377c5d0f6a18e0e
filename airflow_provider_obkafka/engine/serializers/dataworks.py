"""
The OMS "DataWorks (2.0)" serialization method (reference §7): `version`, `schema` (source, columns, key),
`payload` (before/after images under `data`, `op`, timestamps, `ddl`, `scn`) and `extend` (`load_fm`, the
Business System Identification). Values follow the Default family's rules (`engine/changes/values.py`). Choices where
OMS is silent, and why: docs/formats.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.change import RecordType
from airflow_provider_obkafka.engine.serializers import ClockedSerializer
from airflow_provider_obkafka.engine.serializers.default import change_images
from airflow_provider_obkafka.engine.serializers.default_extend import column_type_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.changes.change import Image, RowChange, TableContext

__all__ = ["DataWorksSerializer"]

VERSION = "2.0"
_CACHE_KEY = "dataworks"
# A full-sync row is an INSERT: DataWorks 2.0 has no op for it (§7.1: INSERT, UPDATE, DELETE, HEARTBEAT, ...).
_OPS = {
    RecordType.ROW: "INSERT",
    RecordType.INSERT: "INSERT",
    RecordType.UPDATE: "UPDATE",
    RecordType.DELETE: "DELETE",
}


def _parts(ctx: TableContext) -> tuple[orjson.Fragment, orjson.Fragment]:
    """The table's `schema` and `extend` objects as ready JSON, built once per table."""
    found = ctx.cache.get(_CACHE_KEY)
    if found is None:
        schema = {
            "source": {
                "dbType": ctx.db_type.value.lower(),
                "dbVersion": None,
                "dbName": ctx.database,
                "schema": None,
                "table": ctx.table,
            },
            "column": [
                {"name": name, "type": column_type_name(ctx.schema.column(name))} for name in ctx.columns
            ],
            "pk": list(ctx.key_columns) or None,
        }
        extend = {} if ctx.business_system_id is None else {"load_fm": ctx.business_system_id}
        found = ctx.cache[_CACHE_KEY] = (
            orjson.Fragment(orjson.dumps(schema)),
            orjson.Fragment(orjson.dumps(extend)),
        )
    return found


class DataWorksSerializer(ClockedSerializer):
    """
    OMS DataWorks 2.0: one JSON object per change; an UPDATE is one message with both images.

    :param intra_transaction_sequence: accepted for a uniform factory signature; DataWorks has no field for
        it (`payload.scn` carries the sequence either way, like Default's `storeDataSequence`)
    :param sequence: what gives `payload.scn` (`SharedKeySerializer`)
    :param clock: seconds since the epoch, for `timestamp.systemTime` (the time the message is written)
    """

    name = "DataWorks"

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The DataWorks 2.0 JSON message of a change."""
        commit = change.commit_ts_us
        if change.record_type is RecordType.HEARTBEAT:
            when = int(self._clock() * 1000) if commit is None else commit // 1000
            return orjson.dumps(
                {"version": VERSION, "payload": {"timestamp": {"eventTime": when}, "op": "HEARTBEAT"}}
            )
        before, after = change_images(change)
        schema, extend = _parts(ctx)
        timestamp = {
            "eventTime": None if commit is None else commit // 1000,
            "systemTime": int(self._clock() * 1000),
            "checkpointTime": None if commit is None else commit // 1_000_000,
        }
        sequence = self.sequence(change)
        head = (
            schema,
            _OPS[change.record_type],
            timestamp,
            None if sequence is None else str(sequence),
            extend,
        )
        try:
            return _encode(head, before, after, ctx.render_image_fast)
        except (TypeError, ValueError):  # an unusual value type: render every value (names a failing column)
            return _encode(head, before, after, ctx.render_image)


def _encode(
    head: tuple[Any, str, dict[str, Any], str | None, Any],
    before: Image | None,
    after: Image | None,
    render: Callable[[Image], Any],
) -> bytes:
    """The message bytes, images rendered with `render`."""
    schema, op, timestamp, scn, extend = head
    return orjson.dumps(
        {
            "version": VERSION,
            "schema": schema,
            "payload": {
                "before": None if before is None else {"data": render(before)},
                "after": None if after is None else {"data": render(after)},
                "op": op,
                "timestamp": timestamp,
                "ddl": None,
                "scn": scn,
            },
            "extend": extend,
        }
    )
