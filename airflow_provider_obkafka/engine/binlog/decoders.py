"""
The decoders of one binlog dump, for `engine/binlog/reader.py`: the library's events, the TABLE_MAP mapper and
the rows parser (made again for each dump), with the tables mapped so far by table id; and what the rare events
do to them: a FORMAT_DESCRIPTION (the checksum length and post-header sizes of the events that follow), a
TABLE_MAP not seen before, and a DDL that leaves a table's TABLE_MAPs stale. Also the CRC32 check of an event
that obbinlog sends as stored, in-use flag set (`in_use_crc`).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from airflow_provider_obkafka.engine.binlog.parse import FORMAT_DESCRIPTION, IN_USE, table_id, table_names
from airflow_provider_obkafka.engine.binlog.tables import LibraryEvents, RowsParser, TableInfo, TableMapper

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.binlog.events import Scope
    from airflow_provider_obkafka.engine.binlog.tables import Describe

__all__ = ["CRC32_RESIDUE", "StreamDecoders", "in_use_crc"]

CRC32_RESIDUE = 0x2144DF1C  # CRC-32 of a body and its CRC-32 (LE): this exactly when the stored CRC is right


def in_use_crc(kind: int, data: bytes) -> bool:
    """
    A FORMAT_DESCRIPTION whose CRC32 was computed with its in-use flag (`LOG_EVENT_BINLOG_IN_USE_F`) clear:
    obbinlog sends the active file's event as stored, flag set (`FormatDescriptionEvent::flush_to_buff`), and
    MySQL's own checksum test clears that flag first (`event_checksum_test`).
    """
    if kind != FORMAT_DESCRIPTION or not data[18] & IN_USE:
        return False
    return zlib.crc32(data[1:18] + bytes((data[18] & ~IN_USE,)) + data[19:]) == CRC32_RESIDUE


class StreamDecoders:
    """
    The decoders of the dump being read and the tables it mapped (`tables`, by table id: the reader's loop
    recognises a repeated TABLE_MAP and skips rows of out-of-scope tables with it).

    :param scope: the in-scope tables
    :param describe: `describe(database, table) -> TableSchema`, used when the binlog lacks column names
    """

    def __init__(self, scope: Scope, describe: Describe | None) -> None:
        self.scope = scope
        self.describe = describe
        self.tables: dict[int, TableInfo] = {}
        self.library = LibraryEvents("utf8mb4", is_mariadb=False, checksum=False)  # until `open`
        self.mapper: TableMapper | None = None
        self.rows: RowsParser | None = None
        self.described_file: str | None = None  # the file of the last FORMAT_DESCRIPTION read
        self._decoded_before = 0  # rows events the library decoded in the earlier streams of this read

    def open(self, charset: str, *, is_mariadb: bool, checksum: bool, count_only: bool, fast_rows: bool) -> None:
        """The parsers of one stream: the library's, the TABLE_MAP mapper and the rows parser."""
        if self.rows is not None:  # an earlier dump of the same read (obbinlog: a dump per file)
            self._decoded_before += self.rows.library_decoded
        self.library = LibraryEvents(charset, is_mariadb=is_mariadb, checksum=checksum)
        self.mapper = TableMapper(self.describe, self.library)
        self.rows = RowsParser(self.library, count_only=count_only, fast_rows=fast_rows)

    @property
    def library_decoded(self) -> int:
        """How many rows events the library decoded (types or images the compiled decoder does not cover)."""
        return self._decoded_before + (self.rows.library_decoded if self.rows is not None else 0)

    def forget(self, database: str, table: str) -> None:
        """After a DDL: drop the table's described schema and TABLE_MAPs (parsed again when sent)."""
        if self.mapper is not None:
            self.mapper.forget(database, table)
        ref = (database, table)
        for number in [key for key, info in self.tables.items() if (info.database, info.table) == ref]:
            del self.tables[number]

    def format_description(self, data: bytes, tail: int, file: str) -> int:
        """
        Read a FORMAT_DESCRIPTION of `file`: the checksum length of the events that follow (its algorithm byte:
        a server keeps checksums as each file was written, whatever the session asked), and post-header sizes.
        """
        assert self.rows is not None  # set by `open`
        self.rows.reset()
        self.described_file = file
        algorithm = self.library.format_description(data, checksum=tail > 0)
        if algorithm is not None:
            tail = 4 if algorithm == 1 else 0
        self.library.checksum = tail > 0
        return tail

    def table_map(self, data: bytes, end: int) -> TableInfo:
        """
        A TABLE_MAP not seen before (a repeated one is skipped in the loop): its table, parsed if in scope, kept
        by table id and returned.
        """
        number = table_id(data)
        body = data[20:end]
        database, table = table_names(data)
        if not self.scope(database, table):
            info = self.tables[number] = TableInfo(database, table, body, False)
            return info
        assert self.mapper is not None
        info = self.tables[number] = self.mapper.info(data, body, database, table)
        return info
