"""
The Default method's metadata fields shared by its serializer (`default`) and its compiled record function
(`default_record`): the table's `allMetaData` template. `storeDataSequence` is the sort sequence (`sequence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import KEY_SEPARATOR

if TYPE_CHECKING:
    from airflow_provider_obkafka.engine.changes.change import TableContext

__all__ = ["metadata_template"]


def metadata_template(ctx: TableContext) -> dict[str, Any]:
    """
    `allMetaData` with the table's constant fields filled and the others null, in the key order of the
    reference's examples, the fields OMS added later at the end. Built once per table, copied per message.
    """
    found = ctx.cache.get("default")
    if found is None:
        found = ctx.cache["default"] = {
            "checkpoint": None,
            "record_primary_key": KEY_SEPARATOR.join(ctx.key_columns) if ctx.key_columns else None,
            "source_identity": ctx.source_identity,
            "record_primary_value": None,
            "dbType": ctx.db_type.value,
            "table_name": ctx.table,
            "db": ctx.db_name,
            "timestamp": None,
            "storeDataSequence": None,
            "uniqueId": None,
            "transId": None,
        }
        if ctx.business_system_id is not None:
            found["businessSystemId"] = ctx.business_system_id
    return found
