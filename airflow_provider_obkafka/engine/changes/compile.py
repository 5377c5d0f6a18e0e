"""
`build_table_context`: a table's `TableContext` compiled once (column selection checks, image projectors,
image renderers and key plans), so the per-row work is one call.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import DbType, TableContext
from airflow_provider_obkafka.engine.changes.values import INLINE_NAMES, INLINE_RENDER, renderer_for
from airflow_provider_obkafka.exceptions import SchemaError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_obkafka.engine.changes.change import Image, Plan
    from airflow_provider_obkafka.engine.changes.values_text import Render
    from airflow_provider_obkafka.models.schema import TableSchema


def _in_table_order(schema: TableSchema, names: Sequence[str], what: str) -> tuple[str, ...]:
    """`names` checked against the table and put in table order; SchemaError names the missing ones."""
    known, wanted = schema.column_names, set(names)
    missing = [name for name in names if name not in known]
    if missing:
        raise SchemaError(f"table {schema.ref}: {what} {', '.join(map(repr, missing))} not in the table")
    return tuple(name for name in known if name in wanted)


def _projector(image_columns: tuple[str, ...], selected: tuple[str, ...]) -> Callable[[Image], Image] | None:
    """A fast image -> selected values function; None when the image is the selection."""
    if selected == image_columns:
        return None
    index = [image_columns.index(name) for name in selected]
    if len(index) == 1:
        only = index[0]
        return lambda image: (image[only],)
    return operator.itemgetter(*index)


def _image_renderer(
    table: str, image_columns: tuple[str, ...], columns: tuple[str, ...], renders: Sequence[Render | None]
) -> Callable[[Image], dict[str, Any]]:
    """
    image -> `{column: rendered value}`, compiled once per table: one dict display, no per-value loop, no
    zip. `renders[j]` None leaves column j's value as it is; a renderer in `INLINE_RENDER` is written inline
    for its common type. Only `repr` of names and integer indexes go in the source, so any name is safe.
    """
    namespace: dict[str, Any] = dict(INLINE_NAMES)
    items = []
    for j, (name, render) in enumerate(zip(columns, renders, strict=True)):
        i = image_columns.index(name)
        if render is None:
            items.append(f"{name!r}: image[{i}]")
            continue
        namespace[f"r{j}"] = render
        inline = INLINE_RENDER.get(render, "{r}({v})").format(v=f"v{j}", r=f"r{j}")
        items.append(f"{name!r}: None if (v{j} := image[{i}]) is None else {inline}")
    source = "def render(image):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<render {table}>", "exec"), namespace)
    return namespace["render"]  # type: ignore[no-any-return]


def _plan(schema: TableSchema, image_columns: tuple[str, ...], names: tuple[str, ...], what: str) -> Plan:
    """(image index, text renderer) per column of a key; SchemaError when the images do not carry one."""
    missing = [name for name in names if name not in image_columns]
    if missing:
        raise SchemaError(f"table {schema.ref}: {what} {', '.join(map(repr, missing))} not in the row images")
    return tuple((image_columns.index(name), renderer_for(schema.column(name)).text) for name in names)


def _selection(
    schema: TableSchema, columns: Sequence[str] | None, image_columns: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The selected columns and the image columns, checked, in table order."""
    every = schema.column_names
    selected = _in_table_order(schema, every if columns is None else columns, "column")
    if not selected:
        raise SchemaError(f"table {schema.ref}: the column selection is empty; select at least one column")
    images = _in_table_order(schema, every if image_columns is None else image_columns, "column")
    missing = [name for name in selected if name not in images]
    if missing:
        raise SchemaError(f"table {schema.ref}: selected {', '.join(map(repr, missing))} not in the images")
    return selected, images


def build_table_context(
    schema: TableSchema,
    *,
    columns: Sequence[str] | None = None,
    shard_columns: Sequence[str] | None = None,
    image_columns: Sequence[str] | None = None,
    db_type: DbType = DbType.OB_MYSQL,
    tenant: str | None = None,
    business_system_id: str | None = None,
    source_identity: str | None = None,
) -> TableContext:
    """
    The context of one table, built once.

    :param schema: the table's schema
    :param columns: the columns to synchronize (OMS column selection); default every column
    :param shard_columns: OMS shard columns for the Kafka key, in the order given; default the row key
    :param image_columns: the columns readers put in row images; default every column, in table order
    :param db_type: `OB_MYSQL` for OceanBase, `MYSQL` for MySQL and MariaDB
    :param tenant: the OceanBase tenant, when known
    :param business_system_id: OMS Business System Identification, when configured
    :param source_identity: OMS `source_identity`, when there is one
    """
    selected, images = _selection(schema, columns, image_columns)
    _in_table_order(schema, shard_columns or (), "shard column")
    renderers = tuple(renderer_for(schema.column(name)) for name in selected)
    key = schema.row_key()
    partition = tuple(shard_columns) if shard_columns else key
    fast = [None if renderer.passthrough else renderer.render for renderer in renderers]
    table = str(schema.ref)
    return TableContext(
        schema, selected, renderers, images, key, partition, DbType(db_type), tenant, business_system_id,
        source_identity, {}, _projector(images, selected), _image_renderer(table, images, selected, fast),
        _image_renderer(table, images, selected, [renderer.render for renderer in renderers]),
        _plan(schema, images, key, "key column"), _plan(schema, images, partition, "shard column"),
    )  # fmt: skip
