"""
The messages of one incremental change when the project asks for more than OMS writes (docs/formats.md,
"Key changes and tombstones"), in every serialization method:

* `key_change: delete_then_insert`: an UPDATE that changes the row's Kafka key becomes the method's DELETE
  under the old key, then its INSERT of the new image under the new key, so a compacted topic or an upsert
  sink keyed by the Kafka key drops the old row;
* `tombstones_on_delete`: each DELETE of a keyed row (the split's too) is followed by a tombstone, the same
  key with a null value, as Debezium writes, so compaction removes the key altogether.

`messages_function` returns None when neither is asked for: the router then keeps its one-message path. With
them, only UPDATEs whose key columns' values differ and DELETEs do extra work.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from airflow_provider_obkafka.engine.changes.change import RecordType, RowChange

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.changes.change import TableContext
    from airflow_provider_obkafka.engine.serializers import Record

__all__ = ["Message", "Messages", "messages_function", "split_key_change"]

Message: TypeAlias = tuple[bytes | None, bytes | None]  # (Kafka key, value); a None value is a tombstone
Messages: TypeAlias = Callable[[RowChange], list[Message]]
_UPDATE, _DELETE, _INSERT = RecordType.UPDATE, RecordType.DELETE, RecordType.INSERT


def split_key_change(change: RowChange) -> tuple[RowChange, RowChange]:
    """An UPDATE as the DELETE of its before image and the INSERT of its after image; the rest stays."""
    return (
        dataclasses.replace(change, record_type=_DELETE, after=None),
        dataclasses.replace(change, record_type=_INSERT, before=None),
    )


def messages_function(
    record: Record, key: Callable[[RowChange], bytes | None], ctx: TableContext, *,
    delete_then_insert: bool, tombstones: bool,
) -> Messages | None:  # fmt: skip
    """
    change -> its messages, for `ctx`'s table; None when neither option is on (one message per change).

    :param record: the table's record function (change -> key, value) in the project's method
    :param key: the method's Kafka key of a change alone (the old key of the split's DELETE)
    :param delete_then_insert: split an UPDATE that changes the Kafka key (`key_change: delete_then_insert`)
    :param tombstones: a tombstone after each DELETE of a keyed row (`tombstones_on_delete`)
    """
    if not (delete_then_insert or tombstones):
        return None
    columns = ctx.partition_columns if delete_then_insert else ()
    where = tuple(ctx.image_columns.index(name) for name in columns)  # the Kafka key's columns
    values = operator.itemgetter(*where) if where else None  # one value, or a tuple of them

    def moved(change: RowChange) -> tuple[RowChange, RowChange] | None:
        """The DELETE and INSERT of an UPDATE whose Kafka key changes, else None."""
        before, after = change.before, change.after
        if before is None or after is None or values(before) == values(after):  # type: ignore[misc]
            return None
        old, new = split_key_change(change)
        return (old, new) if key(old) != key(new) else None  # values that differ yet make the same key

    def messages(change: RowChange) -> list[Message]:
        kind = change.record_type
        if values is not None and kind is _UPDATE:
            halves = moved(change)
            if halves is not None:
                gone = record(halves[0])
                tail = [(gone[0], None)] if tombstones and gone[0] is not None else []
                return [gone, *tail, record(halves[1])]
        message = record(change)
        if tombstones and kind is _DELETE and message[0] is not None:
            return [message, (message[0], None)]
        return [message]

    return messages
