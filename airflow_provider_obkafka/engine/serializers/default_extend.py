"""
The OMS "DefaultExtendColumnType" serialization method (reference §5): the Default message
(`engine/serializers/default.py`, reused as it is) with `__light_type` added to each image, mapping every
column of the image to `{"schemaType": "<TYPE>"}`. Choices where OMS is silent: docs/formats.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_obkafka.engine.serializers import SharedKeySerializer
from airflow_provider_obkafka.engine.serializers.default import default_message
from airflow_provider_obkafka.exceptions import SchemaError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_obkafka.engine.changes.change import Image, RowChange, TableContext
    from airflow_provider_obkafka.models.schema import Column

__all__ = ["LIGHT_TYPE", "DefaultExtendColumnTypeSerializer", "column_type_name"]

LIGHT_TYPE = "__light_type"
_CACHE_KEY = "default_extend"


def column_type_name(column: Column) -> str:
    """
    A column's type as the DefaultExtendColumnType and DataWorks formats name it: the MySQL type name in
    upper case (`INT`, `BIGINT`, `VARCHAR`, `DATETIME`, `BLOB`), without length, precision or UNSIGNED.
    """
    return column.data_type.upper()


def light_type(ctx: TableContext) -> orjson.Fragment:
    """The table's `__light_type` object as ready JSON, built once per table."""
    types = {name: {"schemaType": column_type_name(ctx.schema.column(name))} for name in ctx.columns}
    return orjson.Fragment(orjson.dumps(types))


def _typed(
    render: Callable[[Image], dict[str, Any]], types: orjson.Fragment
) -> Callable[[Image], dict[str, Any]]:
    """`render`, with `__light_type` added as the last key of the image."""

    def typed(image: Image) -> dict[str, Any]:
        rendered = render(image)
        rendered[LIGHT_TYPE] = types
        return rendered

    return typed


def _renderers(ctx: TableContext) -> tuple[Callable[[Image], Any], Callable[[Image], Any]]:
    """The fast and the full image renderers with `__light_type`, built once per table."""
    found = ctx.cache.get(_CACHE_KEY)
    if found is None:
        if LIGHT_TYPE in ctx.columns:
            raise SchemaError(
                f"table {ctx.schema.ref}: column {LIGHT_TYPE!r} collides with DefaultExtendColumnType's type"
                " field; leave it out of the column selection or use another serialization method"
            )
        types = light_type(ctx)
        found = ctx.cache[_CACHE_KEY] = (
            _typed(ctx.render_image_fast, types),
            _typed(ctx.render_image, types),
        )
    return found


class DefaultExtendColumnTypeSerializer(SharedKeySerializer):
    """
    OMS DefaultExtendColumnType: Default plus the column types in each image.

    :param intra_transaction_sequence: accepted for a uniform factory signature; as in Default, there is no
        field for it (`storeDataSequence` carries the sequence either way)
    :param sequence: what gives `storeDataSequence` (`SharedKeySerializer`)
    """

    name = "DefaultExtendColumnType"

    def value(self, change: RowChange, ctx: TableContext) -> bytes:
        """The Default message of a change, each image with its `__light_type`."""
        fast, full = _renderers(ctx)
        return default_message(change, ctx, fast, full, self.sequence)
