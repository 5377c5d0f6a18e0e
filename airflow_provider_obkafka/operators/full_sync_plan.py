"""FullSyncPlanOperator: take the snapshot point and split every table into key-range chunks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from airflow.configuration import conf
from airflow.sdk import BaseOperator

from airflow_provider_obkafka.engine.binlog.handoff import snapshot_scn
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
from airflow_provider_obkafka.engine.routing.plan import TablePlan, resolve
from airflow_provider_obkafka.engine.snapshot.chunking import choose_chunk_key, plan_chunks
from airflow_provider_obkafka.engine.snapshot.sql import boundary_sql, count_sql, row_bytes_sql
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import SnapshotPoint
from airflow_provider_obkafka.operators._project import (
    checkpoint_state,
    ensure_checkpoint_topic,
    fail_fast,
    load_project,
    project_arg,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class FullSyncPlanOperator(BaseOperator):
    """
    The first step of full synchronization. Takes the snapshot point once per DAG run (OceanBase
    `current_scn()`, and the binlog position where a binlog endpoint answers), records it in the project's
    checkpoint topic so a retry reuses it, and plans every table's chunks at that snapshot. Returns one work
    item per chunk, for `FullSyncOperator.partial(...).expand(work=...)`.

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param tables: `db.table` names to synchronize instead of all the project's tables (templated)
    :param chunk_size: target rows per chunk
    """

    template_fields: Sequence[str] = ("tables",)
    ui_color = "#d5f5e3"

    def __init__(
        self,
        *,
        project: SyncProject | Mapping[str, Any],
        tables: Sequence[str] | Any | None = None,  # Any: a DagParam, resolved when rendered
        chunk_size: int = 100_000,
        max_work_items: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size!r}")
        if max_work_items is not None and max_work_items < 1:
            raise ValueError(f"max_work_items must be at least 1 (or None for [core] max_map_length), got "
                             f"{max_work_items!r}")  # fmt: skip
        self.project = project_arg(project)
        self.tables = tables
        self.chunk_size = chunk_size
        self.max_work_items = max_work_items

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Resolve the tables, fix the snapshot, plan the chunks; returns the work items."""
        project = load_project(self.project)
        source = OceanBaseHook(ob_conn_id=project.source.conn_id, session_time_zone="+00:00")
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        with fail_fast():
            plan = resolve(project, source.list_tables, source.describe_table, only=self.tables or None)
            plan.raise_for_problems(project)
        for warning in plan.warnings:
            self.log.warning("%s", warning)
        sync_id = checkpoints.sync_id_for(f"{context['dag'].dag_id}/{context['run_id']}")
        snapshot, record = self._snapshot(project, source, kafka, sync_id)
        if snapshot is None:
            self.log.info("full sync %s is finished already (its checkpoints say so): nothing to plan", sync_id)
            return []
        # The snapshot's record commits to Kafka while the chunks are planned on the source; the work items
        # are returned only once it is committed, so a retry of this task reuses the same snapshot.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="obkafka-snapshot") as pool:
            recorded = pool.submit(record) if record is not None else None
            work = [item for table in plan.tables
                    for item in self._chunks(source, table, sync_id, snapshot, project.options.chunk_max_bytes)]
            if recorded is not None:
                recorded.result()
        self.log.info("full sync %s: %d tables in %d chunks at %s", sync_id, len(plan.tables), len(work), snapshot)
        limit = self.max_work_items or conf.getint("core", "max_map_length", fallback=1024)
        packed = pack_work(work, limit)
        if len(packed) < len(work):
            self.log.info("%d chunks are more than Airflow maps ([core] max_map_length or max_work_items: %d): "
                          "%d work items of up to %d chunks each", len(work), limit, len(packed),
                          len(packed[0]["chunks"]))  # fmt: skip
        return packed

    def _snapshot(
        self, project: SyncProject, source: OceanBaseHook, kafka: KafkaHook, sync_id: str
    ) -> tuple[SnapshotPoint | None, Callable[[], None] | None]:
        """
        The run's snapshot point: the recorded one on a retry (and None), else a new one and the function
        that records it in the checkpoint topic, to be done before the work items are handed out; None and
        None when this run's full sync is finished (its snapshot record is gone, its finished record kept).
        """
        key = checkpoints.snapshot_key(sync_id)
        self.log.info("checkpoint topic %s: %s", project.checkpoint_topic, ensure_checkpoint_topic(project, kafka))
        state = checkpoint_state(project, kafka)
        if checkpoints.finished_key(sync_id) in state:
            return None, None
        if key in state:
            self.log.info("reusing the snapshot point recorded by an earlier try: %s", state[key])
            return SnapshotPoint.model_validate(state[key]), None
        with fail_fast():
            is_oceanbase = source.server_info().is_oceanbase
            point = source.snapshot_point(require_scn=is_oceanbase)
        if point.scn is not None:  # the last ns before the GTS's µs: the handoff's cutoff is then exact
            point = point.model_copy(update={"scn": snapshot_scn(point.scn)})
        if point.scn is None:
            self.log.warning(
                "the source is not OceanBase: chunks read current data, not one snapshot; changes made during "
                "the full sync are caught up by the incremental sync from binlog position %s",
                point.binlog,
            )
        def record() -> None:
            producer = kafka.producer(transactional_id=checkpoints.transactional_id(project.slug, "snapshot", sync_id))
            sink = TransactionalSink(producer, project.checkpoint_topic)
            sink.begin()
            data = {**point.model_dump(mode="json"), "sync_id": sync_id}
            sink.checkpoint(key, data)
            sink.checkpoint(checkpoints.LAST_FULL_SYNC_KEY, data)
            sink.commit()

        return point, record

    def _chunk_rows(
        self, source: OceanBaseHook, table: TablePlan, snapshot: SnapshotPoint, max_bytes: int | None
    ) -> int:
        """
        Rows per chunk of the table: `chunk_size`, fewer when `max_bytes` (`options.chunk_max_bytes`) would not
        hold that many of its widest row at the snapshot (at least 1: a row wider than it is a chunk alone).
        """
        if max_bytes is None:
            return self.chunk_size
        widest = int(source.get_first(*row_bytes_sql(table.schema, snapshot.scn))[0] or 0)
        rows = min(self.chunk_size, max(1, max_bytes // widest)) if widest else self.chunk_size
        if rows < self.chunk_size:
            self.log.info("%s: %d rows per chunk, not %d: its widest row has %d bytes and chunk_max_bytes is %d",
                          table.ref, rows, self.chunk_size, widest, max_bytes)  # fmt: skip
        return rows

    def _chunks(
        self, source: OceanBaseHook, table: TablePlan, sync_id: str, snapshot: SnapshotPoint, max_bytes: int | None
    ) -> list[dict[str, Any]]:
        """The work items of one table's chunks, planned at the snapshot."""
        size = self._chunk_rows(source, table, snapshot, max_bytes)
        key = choose_chunk_key(table.schema)
        if key.warning:
            self.log.warning("%s", key.warning)

        def next_boundary(after: Any, offset: int) -> Any:
            return source.get_first(*boundary_sql(table.schema, key.columns, after, offset, snapshot.scn))

        rows = None  # a table without a key, at a snapshot: read in slices of chunk_size rows
        if not key.columns and snapshot.scn is not None:
            rows = int(source.get_first(*count_sql(table.schema, snapshot.scn))[0])
        chunk_plan = plan_chunks(table.ref, key, size, next_boundary, rows_at_snapshot=rows)
        last = len(chunk_plan.chunks) - 1
        return [
            {
                "sync_id": sync_id,
                "scn": snapshot.scn,
                "topic": table.topic,
                "columns": list(table.columns()),
                "shard_columns": list(table.settings.shard_columns or ()),
                "expected_rows": size if chunk.index < last else None,
                "chunk": chunk.to_dict(),
            }
            for chunk in chunk_plan.chunks
        ]


def pack_work(items: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """
    The chunks' work items unchanged when there are at most `limit`; else at most `limit` work items
    `{"chunks": [item, ...]}` of consecutive chunks, as evenly filled as possible.
    """
    if len(items) <= limit:
        return items
    per, extra = divmod(len(items), limit)
    packed, start = [], 0
    for index in range(limit):
        end = start + per + (index < extra)
        packed.append({"chunks": items[start:end]})
        start = end
    return packed


def work_chunks(work: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The chunk work items of a work item: itself, or the ones it carries (`pack_work`)."""
    return list(work["chunks"]) if "chunks" in work else [work]
