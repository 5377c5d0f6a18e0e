"""
What the incremental-sync integration tests share: their one-database project, the trigger's event for a range
and one range produced as a fresh worker does, and a whole-second clock.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_obkafka.models.position import BinlogPosition
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


def synced_table(db: str, conn: Any, conn_id: str) -> tuple[Any, SyncProject]:
    """Table `t` (id, a VARCHAR(10)) in `db`, its incremental project, its topics made; (cursor, project)."""
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(10))")
    project = incremental_project(db, conn_id=conn_id)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    return cur, project


def ready_event(start: BinlogPosition, end: BinlogPosition, changes: int = 0) -> dict[str, Any]:
    """The trigger's event for the range [start, end), the log's end reached."""
    return {"status": "ready", "start": start.model_dump(mode="json"), "end": end.model_dump(mode="json"),
            "changes": changes, "reached_end": True}  # fmt: skip


def produce(project: SyncProject, start: BinlogPosition, end: BinlogPosition) -> dict[str, Any]:
    """The range [start, end) through a fresh operator, as after a restart: its only state is the checkpoint."""
    return IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete(
        {}, ready_event(start, end)
    )


def next_second() -> datetime:
    """Sleep until just past the next whole second and return it: earlier commits have an earlier time."""
    now = time.time()
    boundary = math.floor(now) + 1
    time.sleep(boundary - now + 0.05)
    return datetime.fromtimestamp(boundary, tz=UTC)
