"""
The OMS "SharePlex" serialization method (reference §8): `data` (the row; on UPDATE only the changed columns,
new values), `meta` (times, op, table, rowid, transaction, sequence) and, on UPDATE, `key` (the before image).
Values follow the Default family's rules (`engine/changes/values.py`). Choices where OMS is silent, and why:
docs/formats.md.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.changes.change import RecordType
from airflow_provider_obkafka.engine.serializers import ClockedSerializer
from airflow_provider_obkafka.engine.serializers.default import change_images

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.changes.change import Image, RowChange, TableContext

__all__ = ["SharePlexSerializer", "changed_columns", "utc_text"]

# A full-sync row is an insert: SharePlex has no op for it (§8.1: ins, upd, del).
_OPS = {
    RecordType.ROW: "ins",
    RecordType.INSERT: "ins",
    RecordType.UPDATE: "upd",
    RecordType.DELETE: "del",
    RecordType.HEARTBEAT: "heartbeat",
}


@lru_cache(maxsize=256)
def utc_text(seconds: int) -> str:
    """Epoch seconds as `YYYY-MM-DDTHH:mm:ss` in UTC, the form of `meta.time` and `meta.posttime`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def changed_columns(ctx: TableContext, before: Image, after: Image) -> list[str]:
    """The selected columns whose value differs between the before and the after image, in table order."""
    return [
        name
        for name, old, new in zip(ctx.columns, ctx.select(before), ctx.select(after), strict=True)
        if old != new or type(old) is not type(new)
    ]


def _template(ctx: TableContext, numbered: bool) -> dict[str, Any]:
    """
    `meta` with the table's constant fields filled, in the key order of the reference's examples; `seq` only
    with intra-transaction sequencing, `businessSystemId` last and only when configured. Built once per table.
    """
    cache_key = f"shareplex:{int(numbered)}"
    found = ctx.cache.get(cache_key)
    if found is None:
        found = {"posttime": None, "op": None, "size": 0, "time": None, "idx": "0/0"}
        if numbered:
            found["seq"] = 0
        found.update(table=f"{ctx.database}.{ctx.table}", rowid=None, trans=None, scn=None)
        if ctx.business_system_id is not None:
            found["businessSystemId"] = ctx.business_system_id
        ctx.cache[cache_key] = found
    return found


class SharePlexSerializer(ClockedSerializer):
    """
    OMS SharePlex: one JSON object per change.

    :param intra_transaction_sequence: OMS "Enable Intra-Transaction Sequence": write `meta.seq`, the change's
        number within its transaction (from 1; 0 outside a transaction, as in full sync)
    :param sequence: what gives `meta.scn` (`SharedKeySerializer`)
    :param clock: seconds since the epoch, for `meta.posttime` (the time the message is written)
    """

    name = "SharePlex"

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The SharePlex JSON message of a change."""
        before, after = change_images(change)
        meta = self._meta(change, ctx, after if after is not None else before)
        try:
            return _encode(meta, before, after, ctx, ctx.render_image_fast)
        except (TypeError, ValueError):  # an unusual value type: render every value (names a failing column)
            return _encode(meta, before, after, ctx, ctx.render_image)

    def _meta(self, change: RowChange, ctx: TableContext, image: Image | None) -> dict[str, Any]:
        """`meta` of one change: the table's template with the change's fields set."""
        meta = _template(ctx, self.intra_transaction_sequence).copy()
        meta["posttime"] = utc_text(int(self._clock()))
        meta["op"] = _OPS[change.record_type]
        commit = change.commit_ts_us
        if commit is not None:
            meta["time"] = utc_text(commit // 1_000_000)
            sequence = self.sequence(change)
            meta["scn"] = None if sequence is None else str(sequence)
        if self.intra_transaction_sequence and change.sequence is not None:
            meta["seq"] = change.sequence
            meta["idx"] = f"{change.sequence}/0"
        key = None if image is None else ctx.key_text(image)
        meta["rowid"] = f"{meta['table']}-{'' if key is None else key}"
        meta["trans"] = change.transaction_id
        return meta


def _encode(
    meta: dict[str, Any],
    before: Image | None,
    after: Image | None,
    ctx: TableContext,
    render: Callable[[Image], Any],
) -> bytes:
    """The message bytes, images rendered with `render`."""
    if before is not None and after is not None:  # UPDATE: the changed columns' new values, the before image
        new = render(after)
        changed = {name: new[name] for name in changed_columns(ctx, before, after)}
        return orjson.dumps({"data": changed, "meta": meta, "key": render(before)})
    image = after if after is not None else before
    return orjson.dumps({"data": {} if image is None else render(image), "meta": meta})
