"""SQL that reads OceanBase/MySQL metadata through a DB-API cursor; used by OceanBaseHook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_obkafka.exceptions import CapabilityError
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.models.schema import Column, TableRef, TableSchema, UniqueKey, parse_enum_values

if TYPE_CHECKING:
    from collections.abc import Sequence


class ServerInfo(NamedTuple):
    """What the server says it is."""

    version: str
    version_comment: str
    is_oceanbase: bool


def read_server_info(cur: Any) -> ServerInfo:
    """`SELECT version()` and the version comment; OceanBase says so in either."""
    cur.execute("SELECT version(), @@version_comment")
    version, comment = cur.fetchone()
    is_ob = "oceanbase" in f"{version} {comment}".lower()
    return ServerInfo(str(version), str(comment or ""), is_ob)


def read_base_tables(cur: Any, databases: Sequence[str]) -> list[TableRef]:
    """Physical tables (TABLE_TYPE 'BASE TABLE') of the given databases, sorted."""
    marks = ", ".join(["%s"] * len(databases))
    cur.execute(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA IN ({marks}) AND TABLE_TYPE = 'BASE TABLE'",
        list(databases),
    )
    # Sorted here, by code point: the server's collation would order `_` and case differently per setup.
    return sorted(TableRef(str(db), str(name)) for db, name in cur.fetchall())


def read_table_type(cur: Any, database: str, table: str) -> str | None:
    """`BASE TABLE`, `VIEW`, `SYSTEM VIEW`, ... or None when no such object exists."""
    cur.execute(
        "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (database, table),
    )
    row = cur.fetchone()
    return str(row[0]).upper() if row else None


_COLUMNS_SQL = (
    "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, "
    "NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, IS_NULLABLE, CHARACTER_SET_NAME, "
    "COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
)

_KEYS_SQL = (
    "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0 "
    "ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX"
)


def read_table_schema(cur: Any, database: str, table: str) -> TableSchema:
    """Columns, primary key and unique keys of one table."""
    cur.execute(_COLUMNS_SQL, (database, table))
    columns = tuple(_column(row) for row in cur.fetchall())
    cur.execute(_KEYS_SQL, (database, table))
    keys: dict[str, list[str]] = {}
    for index_name, column_name in cur.fetchall():
        keys.setdefault(str(index_name), []).append(str(column_name))
    nullable = {col.name: col.nullable for col in columns}
    primary = tuple(keys.pop("PRIMARY", ()))
    unique = tuple(
        UniqueKey(name=name, columns=tuple(cols), not_null=not any(nullable.get(c, True) for c in cols))
        for name, cols in keys.items()
    )
    return TableSchema(database=database, table=table, columns=columns, primary_key=primary, unique_keys=unique)


def _column(row: Sequence[Any]) -> Column:
    """One information_schema.COLUMNS row as a Column."""
    name, pos, data_type, column_type, length, precision, scale, dt_precision, nullable, charset, default, extra = row
    data_type = str(data_type).lower()
    column_type = str(column_type)
    extra_text = str(extra or "").upper()
    generated = next((kind for kind in ("VIRTUAL", "STORED") if f"{kind} GENERATED" in extra_text), None)
    return Column(
        name=str(name),
        position=int(pos),
        data_type=data_type,
        column_type=column_type,
        length=_int(length) if data_type not in ("json",) else None,
        precision=_int(precision),
        scale=_int(scale),
        fractional_seconds=_int(dt_precision),
        unsigned="unsigned" in column_type.lower(),
        nullable=str(nullable).upper() == "YES",
        charset=str(charset) if charset else None,
        default=None if default is None else str(default),
        generated=generated,
        enum_values=parse_enum_values(column_type),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def read_binlog_position(cur: Any, endpoint: str) -> BinlogPosition:
    """
    `SHOW MASTER STATUS` as a BinlogPosition, with the GTID set where the server has one.

    The OceanBase Binlog Service answers statements it cannot parse with an OK packet and no result
    set, so an empty answer is checked for, not assumed away. Variables are read without aliases
    (obbinlog mishandles `SELECT @@x AS y`).
    """
    try:
        cur.execute("SHOW MASTER STATUS")
    except Exception as exc:
        raise CapabilityError(f"{endpoint} has no binlog endpoint (SHOW MASTER STATUS failed: {exc})") from exc
    row = cur.fetchone() if cur.description else None
    if not row:
        raise CapabilityError(
            f"{endpoint} reports no binlog position: binary logging is off or no Binlog Service is enabled "
            "for this tenant (OceanBase: CREATE BINLOG FOR TENANT ...; MySQL/MariaDB: log_bin=ON)"
        )
    names = [d[0].lower() for d in cur.description]
    values = dict(zip(names, row, strict=False))
    gtid = values.get("executed_gtid_set") or None
    flavor = "mysql" if gtid else None
    file, position = str(values["file"]), int(values["position"])
    if gtid is None:
        gtid = _mariadb_gtid(cur, file, position)
        flavor = "mariadb" if gtid else None
    return BinlogPosition(file=file, position=position, gtid_set=gtid, gtid_flavor=flavor)


def read_snapshot_binlog_position(cur: Any, current: BinlogPosition) -> BinlogPosition | None:
    """
    MariaDB only (None elsewhere): the binlog position of a consistent snapshot (`binlog_snapshot_file`/
    `_position`). `SHOW MASTER STATUS` counts a transaction once it is written to the binlog, a moment before
    the storage engine makes it visible; a read in that moment would miss it and a replay from the position
    would skip it. At the snapshot's position every earlier transaction is committed in the engine, so the
    full sync's chunk reads see them. The GTID set is the one MariaDB computes for that position.
    """
    if current.gtid_flavor != "mariadb" and "mariadb" not in str(cur.connection.get_server_info()).lower():
        return None
    cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    try:
        cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
        values = {str(name).lower(): value for name, value in cur.fetchall()} if cur.description else {}
    finally:
        cur.execute("COMMIT")
    file, position = values.get("binlog_snapshot_file"), values.get("binlog_snapshot_position")
    if not file or not position:
        return None
    gtid = _mariadb_gtid(cur, str(file), int(position))
    return BinlogPosition(file=str(file), position=int(position), gtid_set=gtid, gtid_flavor="mariadb")


def _mariadb_gtid(cur: Any, file: str, position: int) -> str | None:
    """
    MariaDB's GTID position at a binlog position (`BINLOG_GTID_POS`: exact for that position, where
    `gtid_binlog_pos`, read in another statement, may already count later commits); None elsewhere.
    """
    try:
        cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, position))
    except Exception:
        return None
    row = cur.fetchone() if cur.description else None
    return str(row[0]) if row and row[0] else None
