"""What the source tells about a table: columns in order, primary key, unique keys."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict


class TableRef(NamedTuple):
    """A physical table, by database and name."""

    database: str
    table: str

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"


class Column(BaseModel):
    """
    One column of a table, as information_schema describes it.

    :param name: column name
    :param position: 1-based ordinal position
    :param data_type: lower-case type name (`bigint`, `varchar`, `decimal`, `timestamp`, ...)
    :param column_type: the full type (`bigint(20) unsigned`, `enum('a','b')`, ...)
    :param length: character length of string types, in characters
    :param precision: numeric precision, or the bit count of BIT
    :param scale: numeric scale
    :param fractional_seconds: fractional-second digits of TIME, DATETIME and TIMESTAMP
    :param unsigned: the integer or decimal type is UNSIGNED
    :param nullable: NULL is allowed
    :param charset: character set of string types
    :param default: the default expression as the server prints it
    :param generated: `VIRTUAL` or `STORED` for a generated column, else None
    :param enum_values: the members of ENUM and SET, in order
    """

    model_config = ConfigDict(frozen=True)

    name: str
    position: int
    data_type: str
    column_type: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    fractional_seconds: int | None = None
    unsigned: bool = False
    nullable: bool = True
    charset: str | None = None
    default: str | None = None
    generated: str | None = None
    enum_values: tuple[str, ...] = ()


class UniqueKey(BaseModel):
    """
    A unique index: its name, its columns in index order, and whether every column is NOT NULL.

    :param name: index name (`PRIMARY` for the primary key)
    :param columns: column names in index order
    :param not_null: every column is NOT NULL, so the key identifies a row on its own
    """

    model_config = ConfigDict(frozen=True)

    name: str
    columns: tuple[str, ...]
    not_null: bool


class TableSchema(BaseModel):
    """
    The schema of one physical table.

    :param database: database name
    :param table: table name
    :param columns: the columns in ordinal order
    :param primary_key: primary key columns in key order (empty when the table has none)
    :param unique_keys: the unique keys other than the primary key
    """

    model_config = ConfigDict(frozen=True)

    database: str
    table: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[UniqueKey, ...] = ()

    @property
    def ref(self) -> TableRef:
        """The table's database and name."""
        return TableRef(self.database, self.table)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in ordinal order."""
        return tuple(col.name for col in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`; KeyError names the table when there is none."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.ref} has no column {name!r}")

    def row_key(self) -> tuple[str, ...]:
        """Columns that identify a row: the primary key, else the first NOT NULL unique key, else none."""
        if self.primary_key:
            return self.primary_key
        for key in self.unique_keys:
            if key.not_null:
                return key.columns
        return ()


def parse_enum_values(column_type: str) -> tuple[str, ...]:
    """
    The members of `enum('a','b')` or `set('a','b')`.

    MySQL doubles a quote inside a member (`'it''s'`); OceanBase prints it bare (`'it's'`). Splitting on
    the `','` separator reads both; a member that itself contains `','` cannot be told apart.
    """
    lowered = column_type.lower()
    prefix = next((p for p in ("enum('", "set('") if lowered.startswith(p)), None)
    if prefix is None or not column_type.endswith("')"):
        return ()
    body = column_type[len(prefix) : -2]
    return tuple(member.replace("''", "'") for member in body.split("','"))
