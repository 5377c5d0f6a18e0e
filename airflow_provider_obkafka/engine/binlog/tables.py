"""
The tables of a binlog stream: each TABLE_MAP parsed once, then recognised by its bytes; and the few events
that pymysqlreplication still parses from the raw bytes `engine/binlog/wire.py` reads.

The OceanBase Binlog Service (and any single-row statement) sends a TABLE_MAP before every rows event. A
TABLE_MAP whose bytes equal the last one of its table id is the same table: nothing is parsed. A new one is
parsed by the library (its column metadata and optional metadata rules are many), its columns completed
from `describe` when the binlog lacks names (`binlog_row_metadata` not FULL), and its row decoder compiled
(`engine/binlog/rows.py`). Tables outside the scope are recognised by name alone and never parsed.

The library also parses the FORMAT_DESCRIPTION event (once per connection) and the rows events the compiled
decoder does not cover (JSON, BIT, GEOMETRY, pre-5.6 temporal types, partial row images). `RowsParser`
reads a rows event's header and bitmaps and picks the decoder.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymysql.protocol import MysqlPacket
from pymysqlreplication.event import FormatDescriptionEvent
from pymysqlreplication.packet import BinLogPacketWrapper
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from airflow_provider_obkafka.engine.binlog.count import column_layout, count_rows
from airflow_provider_obkafka.engine.binlog.library import library_images
from airflow_provider_obkafka.engine.binlog.parse import PARTIAL_UPDATE, ROWS, ROWS_V2, packed_int
from airflow_provider_obkafka.engine.binlog.rows import (
    DELETE_ROWS,
    INSERT_ROWS,
    UPDATE_ROWS,
    FastRows,
    RowsDecoder,
)
from airflow_provider_obkafka.engine.changes.change import Image, RecordType
from airflow_provider_obkafka.exceptions import SchemaError, UnsupportedEventError

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = ["Describe", "LibraryEvents", "RowsParser", "RowsParts", "TableInfo", "TableMapper"]

Describe = Callable[[str, str], "TableSchema"]
# A rows event as `ChangeGrouper.changes` takes it: database, table, record type, columns, key, images, time.
RowsParts = tuple[
    str, str, RecordType, tuple[str, ...], tuple[str, ...], Iterable[tuple[Image | None, Image | None]], int
]
_MODES = {kind: ({RecordType.INSERT: INSERT_ROWS, RecordType.DELETE: DELETE_ROWS}.get(record_type, UPDATE_ROWS),
                 record_type) for kind, record_type in ROWS.items()}  # fmt: skip
_ROWS_CLASS = {RecordType.INSERT: WriteRowsEvent, RecordType.UPDATE: UpdateRowsEvent,
               RecordType.DELETE: DeleteRowsEvent}  # fmt: skip


@dataclass(slots=True, eq=False)
class TableInfo:
    """
    One TABLE_MAP, as the reader needs it for the rows events that follow.

    :param database: the table's database
    :param table: the table's name
    :param body: the TABLE_MAP's bytes after the event header: the same bytes are the same table
    :param in_scope: whether the table is synchronized; out-of-scope tables have nothing else
    :param columns: column names in order
    :param key: the row key's columns (primary key, else the described unique key)
    :param count: the number of columns
    :param full_bitmap: the columns-present bitmap of a full row image
    :param decoder: the compiled row decoder, or None (the library decodes)
    :param layout: value sizes for counting rows without decoding them, or None
    :param library_table: the library's table object, for the library's decoder
    """

    database: str
    table: str
    body: bytes
    in_scope: bool
    columns: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    count: int = 0
    full_bitmap: bytes = b""
    decoder: RowsDecoder | None = None
    layout: Any = None
    library_table: Any = None


class _Control:
    """What the library asks of its metadata connection while parsing: the charset and the server kind."""

    def __init__(self, charset: str, dbms: str) -> None:
        self.charset = charset
        self.dbms = dbms

    def _get_dbms(self) -> str:
        return self.dbms


class LibraryEvents:
    """
    pymysqlreplication's parsers applied to raw events (no connection of its own).

    :param charset: the connection charset (the library decodes names with it)
    :param is_mariadb: the server is MariaDB (optional metadata differs)
    :param checksum: events end with a CRC32
    """

    def __init__(self, charset: str, *, is_mariadb: bool, checksum: bool) -> None:
        self._control = _Control(charset, "mariadb" if is_mariadb else "mysql")
        self.checksum = checksum
        self.table_map: dict[int, Any] = {}
        self.mysql_version: tuple[int, int, int] = (0, 0, 0)
        self.post_header_len: tuple[int, ...] | None = None

    def parse(self, data: bytes, event_class: type) -> Any:
        """The library's event of class `event_class` for the raw event `data`, or None if it skips it."""
        wrapper = BinLogPacketWrapper(
            MysqlPacket(data, "utf8"), self.table_map, self._control, self.mysql_version, self.checksum,
            frozenset((event_class,)), only_tables=None, ignored_tables=None, only_schemas=None,
            ignored_schemas=None, freeze_schema=False, ignore_decode_errors=False, verify_checksum=False,
            optional_meta_data=True, enable_logging=False, use_column_name_cache=False,
            post_header_lengths=self.post_header_len,
        )  # fmt: skip
        return wrapper.event

    def format_description(self, data: bytes, *, checksum: bool) -> int | None:
        """
        Take the server version and post-header lengths from a FORMAT_DESCRIPTION event; return its checksum
        algorithm (0 none, 1 CRC32), or None from a server older than checksums.
        """
        self.checksum = checksum
        event = self.parse(data, FormatDescriptionEvent)
        self.mysql_version = event.mysql_version
        self.post_header_len = event.post_header_len
        return event.checksum_algorithm  # type: ignore[no-any-return]

    def post_header(self, kind: int, default: int) -> int:
        """The post-header size of events of `kind` the FORMAT_DESCRIPTION gave, else `default`."""
        lengths = self.post_header_len
        return lengths[kind - 1] if lengths and len(lengths) >= kind else default

    def table(self, data: bytes) -> Any:
        """The library's table object of a raw TABLE_MAP event (also kept in `table_map`)."""
        return self.parse(data, TableMapEvent).get_table()

    def rows_event(self, data: bytes, record_type: RecordType) -> Any:
        """The library's rows event for a raw rows event whose TABLE_MAP `table` parsed."""
        return self.parse(data, _ROWS_CLASS[record_type])


# Types whose values are bytes in a character set (or binary): without binlog metadata (obbinlog writes none),
# the described column's charset tells TEXT from BLOB and CHAR from BINARY.
_STRING_TYPES = frozenset((
    "char", "varchar", "binary", "varbinary", "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob",
    "mediumblob", "longblob",
))  # fmt: skip


class TableMapper:
    """
    TABLE_MAPs turned into `TableInfo`s: column names and keys (binlog metadata, else `describe`), and the
    compiled decoder. Described schemas are kept per table until `forget` (after a DDL).

    :param describe: `describe(database, table) -> TableSchema`, or None
    :param library: the library's parsers
    """

    def __init__(self, describe: Describe | None, library: LibraryEvents) -> None:
        self.describe = describe
        self.library = library
        self.schemas: dict[tuple[str, str], TableSchema] = {}
        self._fast = FastRows()

    def forget(self, database: str, table: str) -> None:
        self.schemas.pop((database, table), None)

    def _schema(self, ref: tuple[str, str], count: int) -> TableSchema:
        schema = self.schemas.get(ref)
        if schema is None or len(schema.columns) != count:
            if self.describe is None:
                raise SchemaError(f"table {ref[0]}.{ref[1]}: the binlog has no column names and no describe")
            schema = self.schemas[ref] = self.describe(*ref)
        if len(schema.columns) != count:
            raise SchemaError(
                f"table {ref[0]}.{ref[1]}: the binlog row has {count} columns, the table has "
                f"{len(schema.columns)}: the schema changed after this event; resync the table"
            )
        return schema

    def info(self, data: bytes, body: bytes, database: str, table: str) -> TableInfo:
        """An in-scope table's `TableInfo` from its raw TABLE_MAP event."""
        library_table = self.library.table(data)
        columns = library_table.columns
        names, key = self._prepare(database, table, columns)
        count = len(columns)
        full = b"\xff" * (count // 8) + (bytes([(1 << count % 8) - 1]) if count % 8 else b"")
        return TableInfo(
            database, table, body, True, names, key, count, full, self._fast.for_columns(columns),
            column_layout(columns), library_table,
        )  # fmt: skip

    def _prepare(self, database: str, table: str, columns: list[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Column names and key columns; fills in what the TABLE_MAP lacks (names, UNSIGNED, ENUM/SET)."""
        if all(col.name for col in columns):
            key = tuple(col.name for col in columns if col.is_primary)
            if key or self.describe is None:
                return tuple(col.name for col in columns), key
        schema = self._schema((database, table), len(columns))
        for col, described in zip(columns, schema.columns, strict=True):
            col.name = col.name or described.name
            col.unsigned = col.unsigned or described.unsigned
            if described.data_type == "enum" and not col.enum_values:
                col.enum_values = [""] + list(described.enum_values)
            if described.data_type == "set" and not col.set_values:
                col.set_values = list(described.enum_values)
            if col.character_set_name is None and described.data_type in _STRING_TYPES:
                col.character_set_name = described.charset or "binary"  # a BLOB's bytes are no UTF-8 text
        return schema.column_names, schema.row_key()


class RowsParser:
    """
    Rows events of in-scope tables, from their raw bytes: the rows decoded by the table's compiled decoder,
    else by the library (types it does not cover, partial images), or only counted (`count_only`).

    :param library: the library's parsers (post-header sizes, fallback decoding)
    :param count_only: count rows without decoding them where the layout allows
    :param fast_rows: use the compiled decoder (False: always the library's)
    """

    def __init__(self, library: LibraryEvents, *, count_only: bool = False, fast_rows: bool = True) -> None:
        self.library, self.count_only, self.fast_rows = library, count_only, fast_rows
        self.library_decoded = 0
        self._body_at: dict[int, int] = {}  # rows event kind -> where its body starts

    def reset(self) -> None:
        """A new FORMAT_DESCRIPTION: post-header sizes may differ."""
        self._body_at.clear()

    def _body_start(self, kind: int) -> int:
        """Where a rows event's body starts (v2: before its extra data), from the server's post-header sizes."""
        v2 = kind in ROWS_V2
        at = self._body_at[kind] = 20 + self.library.post_header(kind, 10 if v2 else 8) - (2 if v2 else 0)
        return at

    def parse(
        self, data: bytes, end: int, kind: int, info: TableInfo, timestamp: int, file: str, log_pos: int
    ) -> RowsParts:
        """
        An in-scope rows event (ending at `file`:`log_pos`): its images, decoded now, or a count, as the
        arguments of `ChangeGrouper.changes` (database, table, record type, columns, key, images, time).
        """
        if kind == PARTIAL_UPDATE:
            where = f"{file}:{log_pos}"
            raise UnsupportedEventError(
                f"table {info.database}.{info.table}: PARTIAL_UPDATE_ROWS_EVENT (JSON partial update) at {where} "
                "cannot be synchronized: its after image lacks unchanged JSON values; set "
                "binlog_row_value_options='' on the source"
            )
        at = self._body_at.get(kind) or self._body_start(kind)
        if kind in ROWS_V2:
            at += data[28] | data[29] << 8
        count = data[at]
        if count < 0xFB:
            at += 1
        else:
            count, at = packed_int(data, at)
        if count != info.count:
            where = f"{file}:{log_pos}"
            raise SchemaError(
                f"table {info.database}.{info.table}: a rows event at {where} has {count} columns, the table "
                f"map read for it {info.count}: the table changed without a DDL in the log; read again from "
                "the last checkpoint"
            )
        mode, record_type = _MODES[kind]
        full = info.full_bitmap
        width = len(full)
        bitmaps_at = at
        present = data[at : at + width] == full
        if mode == UPDATE_ROWS:
            present = present and data[at + width : at + 2 * width] == full
            at += width
        at += width
        if self.count_only and info.layout is not None:
            bitmaps = [data[start : start + width] for start in range(bitmaps_at, at, width)]
            counted = count_rows(data, at, end, info.layout, bitmaps)
            if counted is not None:
                unread = itertools.repeat((None, None), counted)
                return info.database, info.table, record_type, (), (), unread, timestamp
        if present and self.fast_rows and info.decoder is not None:
            images: Any = info.decoder(data, at, end, mode)
        else:
            self.library_decoded += 1
            self.library.table_map[info.library_table.table_id] = info.library_table
            images = library_images(self.library.rows_event(data, record_type), record_type)
        return info.database, info.table, record_type, info.columns, info.key, images, timestamp
