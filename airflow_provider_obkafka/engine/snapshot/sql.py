"""
SQL text for snapshot reads on OceanBase (MySQL mode): quoting, the chunk SELECT, the boundary query.

Every builder returns `(sql, params)` in pymysql's `format` paramstyle. Values always travel as parameters;
the only numbers written into the text are the snapshot SCN and the boundary offset, each validated as an int.
Run the pair as `cursor.execute(sql, params)` or `hook.get_first(sql, params)`. A `%` in a name is written
`%%` when the statement has parameters (pymysql formats it back to `%`); a statement without parameters comes
with `params=None` and single `%`, because neither pymysql (`args=None`) nor DbApiHook (empty parameters)
formats it then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.models.schema import TableRef, TableSchema

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_obkafka.engine.snapshot.chunking import Chunk

__all__ = [
    "boundary_sql",
    "count_sql",
    "key_condition",
    "qualified_name",
    "quote_ident",
    "range_condition",
    "row_bytes_sql",
    "select_chunk_sql",
    "snapshot_clause",
    "Statement",
]

SqlWithParams = tuple[str, tuple[Any, ...]]
Statement = tuple[str, tuple[Any, ...] | None]


def quote_ident(name: str) -> str:
    """
    Quote a MySQL identifier with backticks, doubling any backtick inside.

    :param name: a database, table or column name, as information_schema spells it
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"not a usable SQL identifier: {name!r}")
    return "`" + name.replace("`", "``") + "`"


def qualified_name(table: TableRef | TableSchema) -> str:
    """`db`.`table` of a table reference or schema, both parts quoted."""
    ref = table.ref if isinstance(table, TableSchema) else TableRef(*table)
    return f"{quote_ident(ref.database)}.{quote_ident(ref.table)}"


def _ident(name: str) -> str:
    """`quote_ident` for a statement with parameters: `%` doubled."""
    return quote_ident(name).replace("%", "%%")


def _table(table: TableRef | TableSchema) -> str:
    return qualified_name(table).replace("%", "%%")


def _statement(sql: str, params: tuple[Any, ...]) -> Statement:
    """The final pair: without parameters, `%%` (only ever a doubled `%` of a name) back to `%` and None."""
    return (sql, params) if params else (sql.replace("%%", "%"), None)


def snapshot_clause(snapshot_scn: int | None) -> str:
    """` AS OF SNAPSHOT <scn>` (OceanBase flashback read), or "" for a read of the current data."""
    if snapshot_scn is None:
        return ""
    if isinstance(snapshot_scn, bool) or not isinstance(snapshot_scn, int) or snapshot_scn < 0:
        raise ValueError(f"snapshot SCN must be a non-negative int, got {snapshot_scn!r}")
    return f" AS OF SNAPSHOT {int(snapshot_scn)}"


def key_condition(key_columns: Sequence[str], operator: str, values: Sequence[Any]) -> SqlWithParams:
    """
    A key comparison, as a fragment of a statement with parameters (`%` in names doubled): `k >= %s` for one
    column, the row constructor `(a, b) >= (%s, %s)` for several.

    Row constructors compare lexicographically, the order of `ORDER BY a, b`, and OceanBase turns them into
    an index range scan (EXPLAIN shows `range[b,3 ; c,10)`).
    """
    if operator not in ("<", "<=", ">", ">="):
        raise ValueError(f"unsupported key comparison {operator!r}")
    if not key_columns:
        raise ValueError("a key comparison needs at least one key column")
    if len(values) != len(key_columns):
        raise ValueError(
            f"key value {tuple(values)!r} has {len(values)} part(s) but the key "
            f"({', '.join(key_columns)}) has {len(key_columns)}"
        )
    if len(key_columns) == 1:
        return f"{_ident(key_columns[0])} {operator} %s", (values[0],)
    names = ", ".join(_ident(col) for col in key_columns)
    marks = ", ".join("%s" for _ in key_columns)
    return f"({names}) {operator} ({marks})", tuple(values)


def range_condition(
    key_columns: Sequence[str], lower: Sequence[Any] | None, upper: Sequence[Any] | None
) -> SqlWithParams:
    """` WHERE key >= lower AND key < upper` (a parameterized fragment); a missing bound is left out."""
    parts: list[str] = []
    params: list[Any] = []
    for operator, bound in ((">=", lower), ("<", upper)):
        if bound is not None:
            text, values = key_condition(key_columns, operator, bound)
            parts.append(text)
            params.extend(values)
    where = f" WHERE {' AND '.join(parts)}" if parts else ""
    return where, tuple(params)


def _order_by(key_columns: Sequence[str]) -> str:
    return f" ORDER BY {', '.join(_ident(col) for col in key_columns)}" if key_columns else ""


def _select_list(table: TableRef | TableSchema, columns: Sequence[str] | None) -> str:
    if columns is None:
        if not isinstance(table, TableSchema):
            raise ValueError(
                f"name the columns to read from {TableRef(*table)}: only a TableSchema lists them"
            )
        columns = table.column_names
    if not columns:
        raise ValueError(f"no columns to read from {qualified_name(table)}")
    return ", ".join(_ident(col) for col in columns)


def select_chunk_sql(
    table: TableRef | TableSchema,
    columns: Sequence[str] | None,
    key_columns: Sequence[str],
    chunk: Chunk,
    snapshot_scn: int | None = None,
    expressions: Sequence[str] | None = None,
) -> Statement:
    """
    The SELECT reading one chunk: `columns` of the rows with `lower <= key < upper`, ordered by the key.

    :param table: the table (a TableSchema also supplies the columns when `columns` is None)
    :param columns: the columns to read, in this order; None for every column of the schema
    :param key_columns: the chunk key; must equal `chunk.key_columns` (a mismatch would skip or repeat rows)
    :param chunk: the key range to read
    :param snapshot_scn: read `AS OF SNAPSHOT` this SCN; None reads the current data
    :param expressions: a SELECT list to read instead of `columns`, written for a statement with parameters
        (any `%` doubled), as `engine.snapshot.render` builds it
    """
    if tuple(key_columns) != tuple(chunk.key_columns):
        raise ValueError(
            f"chunk {chunk.index} of {chunk.table} was planned on key {chunk.key_columns!r}, "
            f"not {tuple(key_columns)!r}"
        )
    where, params = range_condition(key_columns, chunk.lower, chunk.upper)
    select = ", ".join(expressions) if expressions else _select_list(table, columns)
    order = _order_by(key_columns) if chunk.rows_slice is None else _slice_order(table, chunk, snapshot_scn)
    sql = f"SELECT {select} FROM {_table(table)}{snapshot_clause(snapshot_scn)}{where}{order}"
    return _statement(sql, params)


MAX_ROWS = 2**62  # "to the end" after an OFFSET: OceanBase adds LIMIT and OFFSET as a signed BIGINT


def _slice_order(table: TableRef | TableSchema, chunk: Chunk, snapshot_scn: int | None) -> str:
    """
    ` ORDER BY <every column, as bytes> LIMIT n OFFSET m`: a slice of a table without a key (`slice_chunks`).
    The order is total up to rows equal in every column's bytes (interchangeable), and at a snapshot every
    read gives the same rows: bytes first, not the collation, so 'a' and 'A' never tie; then the value, so two
    numbers written alike (FLOAT) do not either.
    """
    if snapshot_scn is None:
        raise ValueError(f"{chunk.describe()} is a slice of a table without a key: it needs a snapshot")
    if not isinstance(table, TableSchema):
        raise ValueError(f"{chunk.describe()}: a slice is ordered by every column: give the TableSchema")
    offset, rows = chunk.rows_slice or (0, None)
    order = ", ".join(f"CAST({_ident(name)} AS BINARY), {_ident(name)}" for name in table.column_names)
    return f" ORDER BY {order} LIMIT {int(MAX_ROWS if rows is None else rows)} OFFSET {int(offset)}"


def count_sql(table: TableRef | TableSchema, snapshot_scn: int | None = None) -> Statement:
    """`SELECT COUNT(*) FROM t [AS OF SNAPSHOT scn]`: a table's exact row count (at the snapshot)."""
    return _statement(f"SELECT COUNT(*) FROM {_table(table)}{snapshot_clause(snapshot_scn)}", ())


def row_bytes_sql(table: TableSchema, snapshot_scn: int | None = None) -> Statement:
    """The widest row's bytes: `MAX` of the sum of every column's `LENGTH` (its bytes as text; NULL: 0)."""
    total = " + ".join(f"COALESCE(LENGTH({_ident(name)}), 0)" for name in table.column_names)
    return _statement(f"SELECT MAX({total}) FROM {_table(table)}{snapshot_clause(snapshot_scn)}", ())


def boundary_sql(
    table: TableRef | TableSchema,
    key_columns: Sequence[str],
    after: Sequence[Any] | None,
    offset: int,
    snapshot_scn: int | None = None,
) -> Statement:
    """
    The next chunk boundary: the key of the row `offset` rows past the first row with key >= `after`.

    `SELECT k1, k2 FROM t WHERE (k1, k2) >= (%s, %s) ORDER BY k1, k2 LIMIT 1 OFFSET n`. The comparison is
    inclusive because `after` is the inclusive lower bound of the chunk being sized: that chunk is the
    `offset` rows from `after` on, and the key returned is the first row of the next one (this one's exclusive
    upper bound), so a boundary row lands in exactly one chunk. No row means the chunk runs to the end.

    :param table: the table
    :param key_columns: the chunk key, at least one column
    :param after: the lower bound of the chunk being sized, or None for the first chunk
    :param offset: the target chunk size in rows, at least 1
    :param snapshot_scn: read `AS OF SNAPSHOT` this SCN; None reads the current data
    """
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
        raise ValueError(f"boundary offset must be an int >= 1, got {offset!r}")
    if not key_columns:
        raise ValueError(f"{qualified_name(table)}: a boundary query needs at least one key column")
    where, params = range_condition(key_columns, after, None)
    names = ", ".join(_ident(col) for col in key_columns)
    sql = (
        f"SELECT {names} FROM {_table(table)}{snapshot_clause(snapshot_scn)}"
        f"{where}{_order_by(key_columns)} LIMIT 1 OFFSET {int(offset)}"
    )
    return _statement(sql, params)
