"""
The sort sequence of incremental synchronization: OMS `storeDataSequence` (Default, DefaultExtendColumnType),
Canal `id`, DataWorks `payload.scn` and SharePlex `meta.scn`, one number per message.

`store_data_sequence(commit, sequence)` is the number a change would get alone: `{commit second}{sequence,
5 digits}`. The incremental stream numbers its messages with a `StoreSequence`, which makes that strictly
increasing: a message gets the larger of that number and one more than the stream's last number, so the
transactions committed in one second go on counting where the one before stopped. The last number travels
in the incremental checkpoint (`SEQUENCE_FIELD`), committed in the Kafka transaction of the messages it
covers, so a resumed stream starts above every number already committed. The rule: docs/formats.md, §3.3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_obkafka.engine.changes.change import RowChange

__all__ = ["SEQUENCE_DIGITS", "SEQUENCE_FIELD", "StoreSequence", "change_sequence", "store_data_sequence"]

SEQUENCE_DIGITS = 5
_SCALE: int = 10**SEQUENCE_DIGITS
SEQUENCE_FIELD = "store_data_sequence"  # the last number given, in an incremental checkpoint value


def store_data_sequence(commit_ts_us: int | None, sequence: int | None) -> int | None:
    """
    `{commit second}{sequence, 5 digits}` as a number: the value of a change on its own; None in full sync.
    A sequence of 100000 or more carries into the seconds digits rather than being cut.
    """
    if commit_ts_us is None or sequence is None:
        return None
    return commit_ts_us // 1_000_000 * _SCALE + sequence


def change_sequence(change: RowChange) -> int | None:
    """`store_data_sequence` of a change on its own (what a serializer writes outside a stream)."""
    return store_data_sequence(change.commit_ts_us, change.sequence)


class StoreSequence:
    """
    The sort sequence of one incremental stream: `number`, called with each change in log order, gives each a
    number above the last one given (`last`), at least the change's own `store_data_sequence`. Called again
    with the same change (a serializer that renders a change twice), it gives the same number. None for a
    change without a commit time or a sequence (full sync, heartbeats), as before. Serializers take `number`
    (a bound method: half the cost of calling the instance, on the path of every message).

    :param last: the last number the stream committed (`resume`), 0 for none
    """

    __slots__ = ("_change", "_value", "last")

    def __init__(self, last: int = 0) -> None:
        self.last = last
        self._change: RowChange | None = None
        self._value: int | None = None

    def resume(self, checkpoint: Mapping[str, Any] | None) -> None:
        """Go on above the last number an incremental checkpoint value records (if it records one)."""
        saved = None if checkpoint is None else checkpoint.get(SEQUENCE_FIELD)
        if isinstance(saved, int) and saved > self.last:
            self.last = saved

    def number(self, change: RowChange) -> int | None:
        """The change's sort sequence (see the class)."""
        if change is self._change:
            return self._value
        commit, sequence = change.commit_ts_us, change.sequence
        value = None
        if commit is not None and sequence is not None:
            value = commit // 1_000_000 * _SCALE + sequence
            last = self.last
            if value <= last:
                value = last + 1
            self.last = value
        self._change, self._value = change, value
        return value
