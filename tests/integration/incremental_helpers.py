"""What the incremental-sync integration tests share: their one-database project and a whole-second clock."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.models.loader import parse_project

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_obkafka.models.project import SyncProject


def incremental_project(
    db: str, tables: Sequence[str] = ("t",), conn_id: str = "mariadb_binlog", *,
    options: dict[str, Any] | None = None, **incremental: Any,
) -> SyncProject:  # fmt: skip
    """
    A schema + incremental project named `db`: each table of `db` into its own new topic `<db>.<table>`.

    :param options: the project's `options` (serialization method, ...), if any
    :param incremental: the project's `incremental` settings, if any (e.g. `start_timestamp`)
    """
    return parse_project(
        {"name": db, "sync_types": ["schema", "incremental"], "source": {"conn_id": conn_id},
         "objects": [{"database": db, "tables": [table], "topic": {"mode": "new", "name": f"{db}.{table}"}}
                     for table in tables],
         **({"incremental": incremental} if incremental else {}), **({"options": options} if options else {})}
    )  # fmt: skip


def next_second() -> datetime:
    """Sleep until just past the next whole second and return it: earlier commits have an earlier time."""
    now = time.time()
    boundary = math.floor(now) + 1
    time.sleep(boundary - now + 0.05)
    return datetime.fromtimestamp(boundary, tz=UTC)
