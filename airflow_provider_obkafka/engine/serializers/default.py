"""
The OMS "Default" serialization method (reference §4): `allMetaData`, `prevStruct`, `recordType`,
`postStruct`. Compact UTF-8 JSON, non-ASCII characters unescaped, keys in the order of the reference's
examples. Which fields are filled for which record type, and why: docs/formats.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.change import RecordType
from airflow_provider_obkafka.engine.serializers import SharedKeySerializer
from airflow_provider_obkafka.engine.serializers.default_metadata import metadata_template
from airflow_provider_obkafka.engine.serializers.default_record import compile_default_record
from airflow_provider_obkafka.engine.serializers.sequence import change_sequence

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.changes.change import Image, RowChange, TableContext
    from airflow_provider_obkafka.engine.serializers import Record, SortSequence

__all__ = [
    "DefaultSerializer",
    "change_images",
    "default_message",
]

# Record type -> (prevStruct from the before image, postStruct from the after image); False means null.
_IMAGES: dict[RecordType, tuple[bool, bool]] = {
    RecordType.ROW: (False, True),
    RecordType.INSERT: (False, True),
    RecordType.UPDATE: (True, True),
    RecordType.DELETE: (True, False),
    RecordType.HEARTBEAT: (False, False),
}


def _metadata(
    change: RowChange, ctx: TableContext, image: Image | None, sequence: SortSequence
) -> dict[str, Any]:
    """`allMetaData` of one change: the table's template with the change's fields set."""
    meta = metadata_template(ctx).copy()
    if image is not None:
        meta["record_primary_value"] = ctx.key_text(image)
    else:
        meta["record_primary_key"] = None  # a heartbeat: no row
    if change.record_type is RecordType.ROW:
        meta["checkpoint"] = change.checkpoint
        return meta
    if change.commit_ts_us is not None:
        meta["checkpoint"] = meta["timestamp"] = str(change.commit_ts_us // 1_000_000)
        meta["storeDataSequence"] = sequence(change)
    meta["uniqueId"] = meta["transId"] = change.transaction_id
    return meta


def change_images(change: RowChange) -> tuple[Image | None, Image | None]:
    """The before and after images the record type shows; ValueError when the change lacks one."""
    wants_before, wants_after = _IMAGES[change.record_type]
    before = change.before if wants_before else None
    after = change.after if wants_after else None
    if (wants_before and before is None) or (wants_after and after is None):
        missing = "before" if wants_before and before is None else "after"
        raise ValueError(
            f"{change.record_type.value} change of {change.database}.{change.table} has no {missing} image"
        )
    return before, after


class DefaultSerializer(SharedKeySerializer):
    """
    OMS Default: one JSON object per change.

    :param intra_transaction_sequence: accepted for a uniform factory signature; Default has no field for it
        (OMS documents the option for SharePlex only). `storeDataSequence` carries the sequence either way.
    :param sequence: what gives `storeDataSequence` (`SharedKeySerializer`)
    """

    name = "Default"

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The Default JSON message of a change."""
        return default_message(change, ctx, ctx.render_image_fast, ctx.render_image, self.sequence)

    def compile_record(self, ctx: TableContext, general: Record) -> Record:
        """The table's compiled key-and-value function (`default_record`): the same bytes, fewer calls."""
        own = self.sequence is change_sequence  # the per-change rule, written inline
        return compile_default_record(ctx, general, None if own else self.sequence)


def default_message(
    change: RowChange,
    ctx: TableContext,
    render_fast: Callable[[Image], Any],
    render_full: Callable[[Image], Any],
    sequence: SortSequence = change_sequence,
) -> bytes:
    """
    The Default JSON message of a change, images rendered with `render_fast`, or with `render_full` when the
    JSON encoder rejects that result, `storeDataSequence` from `sequence`. The Default family
    (DefaultExtendColumnType) passes its own renderers.
    """
    before, after = change_images(change)
    meta = _metadata(change, ctx, after if after is not None else before, sequence)
    kind = change.record_type._value_  # the plain attribute: `.value` is a descriptor call per message
    try:
        return _encode(meta, before, kind, after, render_fast)
    except (TypeError, ValueError):  # an unusual value type: render every value (names a failing column)
        return _encode(meta, before, kind, after, render_full)


def _encode(
    meta: dict[str, Any], before: Image | None, kind: str, after: Image | None, render: Callable[[Image], Any]
) -> bytes:
    """The message bytes, images rendered with `render`."""
    return orjson.dumps(
        {
            "allMetaData": meta,
            "prevStruct": None if before is None else render(before),
            "recordType": kind,
            "postStruct": None if after is None else render(after),
        }
    )
