"""
The change model: one row change (`RowChange`) and what serializing a table's changes needs (`TableContext`).

Row images are tuples in the order of a shared column tuple, not dicts: full synchronization moves 100,000+
rows a second and must not build a dict per row before it has to. A `TableContext` is built once per table
and holds all that is the same from row to row: the column selection as indexes, one value renderer per
column, the key columns and the source identity fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_obkafka.engine.changes.slots import slot_setting_init

if TYPE_CHECKING:

    from airflow_provider_obkafka.engine.changes.values import ValueRenderer
    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = ["DbType", "Image", "RecordType", "RowChange", "TableContext"]

Image = tuple[Any, ...]
KEY_SEPARATOR = "\u0001"


class RecordType(StrEnum):
    """What a change is: a full-sync row, an incremental DML, or a heartbeat."""

    ROW = "ROW"
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    HEARTBEAT = "HEARTBEAT"


class DbType(StrEnum):
    """The source database type as OMS names it in `dbType`: OceanBase MySQL mode, or MySQL/MariaDB."""

    OB_MYSQL = "OB_MYSQL"
    MYSQL = "MYSQL"


@slot_setting_init  # one is built per synchronized row
@dataclass(frozen=True, slots=True)
class RowChange:
    """
    One row change, with raw Python values as the reader got them (pymysql or the binlog library).

    :param database: the source database
    :param table: the source table
    :param record_type: ROW (full sync), INSERT, UPDATE, DELETE or HEARTBEAT
    :param columns: the column names of both images, shared by every change of the table
        (`TableContext.image_columns`)
    :param before: the before image (UPDATE, DELETE), values in `columns` order, else None
    :param after: the after image (ROW, INSERT, UPDATE), values in `columns` order, else None
    :param key_columns: the columns that identify the row: primary key, else a NOT NULL unique key, else empty
    :param commit_ts_us: commit time, microseconds since the epoch (UTC); None for ROW
    :param checkpoint: the resume position as text: None in full sync (the full sync's readers set none, so
        Default writes `null`, docs/formats.md §3.3); in incremental sync the transaction's start position
        (Default writes the commit second there instead)
    :param transaction_id: the source transaction id (incremental), else None
    :param sequence: the intra-transaction sequence: the change's number within its transaction, in log order
        (incremental), else None
    """

    database: str
    table: str
    record_type: RecordType
    columns: tuple[str, ...]
    before: Image | None = None
    after: Image | None = None
    key_columns: tuple[str, ...] = ()
    commit_ts_us: int | None = None
    checkpoint: str | None = None
    transaction_id: str | None = None
    sequence: int | None = None

    def key_values(self) -> Image:
        """The values of `key_columns`, from the after image, else the before image; empty without either."""
        image = self.after if self.after is not None else self.before
        return () if image is None else tuple(image[self.columns.index(name)] for name in self.key_columns)

    def image_dict(self, which: Literal["before", "after"]) -> dict[str, Any] | None:
        """The before or after image as a `column: raw value` dict (for tests and logs, not the hot path)."""
        image = self.before if which == "before" else self.after
        return None if image is None else dict(zip(self.columns, image, strict=True))


Plan = tuple[tuple[int, Callable[[Any], str]], ...]
_LAST_KEY = "last key text"  # TableContext.cache: (image, its key text)


def _joined_text(image: Image, plan: Plan) -> str:
    """Values of the planned columns as text, joined with U+0001; NULL as the empty string."""
    if len(plan) == 1:
        index, text = plan[0]
        value = image[index]
        return "" if value is None else text(value)
    return KEY_SEPARATOR.join("" if image[i] is None else text(image[i]) for i, text in plan)


@dataclass(frozen=True, slots=True, eq=False)
class TableContext:
    """
    Everything constant about one table's changes, built once by `build_table_context`.

    :param schema: the table's schema
    :param columns: the selected columns, in table order (the keys of rendered images)
    :param renderers: one renderer per selected column
    :param image_columns: the columns of the row images readers put in a `RowChange`, in table order
    :param key_columns: the row key: primary key, else a NOT NULL unique key, else empty
    :param partition_columns: the columns whose values make the Kafka key: shard columns, else the row key
    :param db_type: `OB_MYSQL` or `MYSQL`
    :param tenant: the OceanBase tenant, when known (`db` is then `tenant.database`)
    :param business_system_id: OMS Business System Identification, when configured
    :param source_identity: OMS `source_identity` (a Store subtopic in OMS); None when there is none
    :param cache: per-format precomputed parts, filled by the serializers on first use
    """

    schema: TableSchema
    columns: tuple[str, ...]
    renderers: tuple[ValueRenderer, ...]
    image_columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    partition_columns: tuple[str, ...]
    db_type: DbType = DbType.OB_MYSQL
    tenant: str | None = None
    business_system_id: str | None = None
    source_identity: str | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _project: Callable[[Image], Image] | None = field(default=None, repr=False)
    _render_fast: Callable[[Image], dict[str, Any]] = field(default=dict, repr=False)
    _render_full: Callable[[Image], dict[str, Any]] = field(default=dict, repr=False)
    _key_plan: Plan = field(default=(), repr=False)
    _partition_plan: Plan = field(default=(), repr=False)

    @property
    def database(self) -> str:
        """The source database."""
        return self.schema.database

    @property
    def table(self) -> str:
        """The source table."""
        return self.schema.table

    @property
    def db_name(self) -> str:
        """`tenant.database` when the tenant is known (OMS's `db` on OceanBase), else the database."""
        return f"{self.tenant}.{self.schema.database}" if self.tenant else self.schema.database

    def select(self, image: Image) -> Image:
        """The selected columns' raw values of an image (the image itself when every column is selected)."""
        return image if self._project is None else self._project(image)

    def render_image(self, image: Image) -> dict[str, Any]:
        """
        An image as `column: rendered value` for the selected columns, every value through its renderer.
        A value no renderer accepts raises ValueError naming the table and the column.
        """
        try:
            return self._render_full(image)
        except (TypeError, ValueError, AttributeError) as exc:
            column = self._failing_column(image)
            if column is None:
                raise
            raise ValueError(f"table {self.schema.ref}: {column}: {exc}") from exc

    def _failing_column(self, image: Image) -> str | None:
        """The first selected column whose renderer rejects its value, with the value, for error messages."""
        for name, renderer, value in zip(self.columns, self.renderers, self.select(image), strict=True):
            try:
                if value is not None:
                    renderer.render(value)
            except (TypeError, ValueError, AttributeError):
                return f"{renderer.kind} column {name!r} cannot take {value!r}"
        return None

    def render_image_fast(self, image: Image) -> dict[str, Any]:
        """
        Like `render_image`, but values of passthrough columns are left as they are. When the JSON encoder
        rejects the result (a reader gave an unusual type), encode `render_image(image)` instead.
        """
        return self._render_fast(image)

    def key_text(self, image: Image) -> str | None:
        """`record_primary_value`: the row key's values as text joined with U+0001; None without a key."""
        if not self._key_plan:
            return None
        if self.partition_columns == self.key_columns:
            return self._shared_key_text(image)
        return _joined_text(image, self._key_plan)

    def partition_text(self, image: Image) -> str | None:
        """The Kafka key text: the partition columns' values joined with U+0001; None without such columns."""
        if not self._partition_plan:
            return None
        if self.partition_columns == self.key_columns:
            return self._shared_key_text(image)
        return _joined_text(image, self._partition_plan)

    def _shared_key_text(self, image: Image) -> str:
        """The key text when the row key is also the Kafka key: a serializer asks for both of one image."""
        last: tuple[Image, str] | None = self.cache.get(_LAST_KEY)
        if last is not None and last[0] is image:  # the cache holds the image, so its identity is not reused
            return last[1]
        text = _joined_text(image, self._key_plan)
        self.cache[_LAST_KEY] = (image, text)
        return text
