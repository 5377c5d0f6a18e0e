"""
Where `engine/binlog/reader.py` is in the change log: the file being read and, when the start has a GTID set,
the executed GTID set at each point (the start's set plus each transaction's GTID read since), so that every
position the reader gives carries both. Reading by GTID, the server finds where to start: the first
transaction's GTID event says where the read really begins.
"""

from __future__ import annotations

from airflow_provider_obkafka.engine.binlog.gtid import GtidTracker, executed_in
from airflow_provider_obkafka.models.position import BinlogPosition

__all__ = ["LogPositions"]


class LogPositions:
    """
    The reader's place in the log.

    :param start: where the read starts (its file, and its GTID set if it has one)
    :param by_gtid: the dump starts after `start.gtid_set`, not at `start`'s file position
    """

    def __init__(self, start: BinlogPosition, *, by_gtid: bool) -> None:
        self.file = start.file
        self.gtids = GtidTracker(start.gtid_set, start.gtid_flavor) if start.gtid_set else None
        self.located = not by_gtid  # by GTID: the first transaction's position comes from the stream
        by_mysql_gtid = by_gtid and self.gtids is not None and self.gtids.flavor == "mysql"
        mysql_gtids = start.gtid_set if by_mysql_gtid else None
        self.resent = executed_in(mysql_gtids) if mysql_gtids else None  # see `mysql_gtid_set_payload`

    def at(self, log_pos: int) -> BinlogPosition:
        """The position `log_pos` in the current file (unvalidated: the server gave it), with the GTID set."""
        if self.gtids is None:
            return BinlogPosition.model_construct(file=self.file, position=log_pos)
        return BinlogPosition.model_construct(
            file=self.file, position=log_pos, gtid_set=str(self.gtids), gtid_flavor=self.gtids.flavor
        )

    def begin(self, text: str, event_start: int) -> BinlogPosition | None:
        """
        A transaction's GTID, counted as executed; returns where a GTID start really begins (the position of
        the first transaction's GTID event, with the set executed before it), None after the first.
        """
        found = None
        if not self.located:  # before adding it: the set executed before this transaction
            self.located = True
            found = self.at(event_start)
        if self.gtids is not None:
            self.gtids.add(text)
        return found
