"""FullSyncOperator: one chunk of a table into Kafka, exactly once, as one mapped task instance."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.changes.change import DbType, TableContext
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.kafka.oversize import MessageLimit, OversizeCounts, OversizeGuard
from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink, sink_producer_config
from airflow_provider_obkafka.engine.pipeline.full import ChunkResult, Progress, commit_chunk, row_encoder
from airflow_provider_obkafka.engine.routing.partitioning import partition_rule
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.serializers.default import DefaultSerializer
from airflow_provider_obkafka.engine.snapshot import render
from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
from airflow_provider_obkafka.engine.snapshot.render_columns import probe_json_quote
from airflow_provider_obkafka.engine.snapshot.sql import qualified_name, select_chunk_sql
from airflow_provider_obkafka.exceptions import MessageTooLargeError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.operators._io import message_limits
from airflow_provider_obkafka.operators._lineage import sync_lineage
from airflow_provider_obkafka.operators._metrics import ProjectMetrics
from airflow_provider_obkafka.operators._project import checkpoint_state, fail_fast, load_project, project_arg
from airflow_provider_obkafka.operators.full_sync_plan import work_chunks

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class FullSyncOperator(BaseOperator):
    """
    Synchronizes one chunk (a primary-key range) of one table: streams its rows at the full sync's snapshot,
    serializes, routes and produces them, and commits them with the chunk's done-record in one Kafka
    transaction. A re-run finds the done-record and skips the chunk; an interrupted run left only an aborted
    (invisible) transaction, which the next try fences before redoing the chunk from its start.

    Use it mapped over the work items of `FullSyncPlanOperator`:
    `FullSyncOperator.partial(task_id="full_sync", project=p).expand(work=plan.output)`.

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param work: one work item of `FullSyncPlanOperator` (templated): one chunk, or several (`chunks`) when the
        plan has more chunks than Airflow maps (`[core] max_map_length`)
    :param progress_every: seconds between two progress lines in the log
    :param render_on_server: in Default format, let the source server write each row's JSON
        (`engine.snapshot.render`: the same bytes, about four times the rows per second); False always renders
        in Python. Columns or tables the server cannot write identically are rendered in Python either way.
    """

    template_fields: Sequence[str] = ("work",)
    ui_color = "#abebc6"

    def __init__(
        self,
        *,
        project: SyncProject | Mapping[str, Any],
        work: Mapping[str, Any],
        progress_every: float = 10.0,
        render_on_server: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project = project_arg(project)
        self.work = work
        self.progress_every = progress_every
        self.render_on_server = render_on_server

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        """
        Sync the work item's chunk, or each of its chunks in turn (`work_chunks`); returns the chunk's record
        (row count, checksum), or the list of its chunks' records.
        """
        project = load_project(self.project)
        items = work_chunks(self.work)
        if "chunks" not in self.work:
            return self._sync_chunk(project, items[0])
        self.log.info("this work item carries %d chunks: synchronized one after the other", len(items))
        return [self._sync_chunk(project, item) for item in items]

    def _sync_chunk(self, project: SyncProject, item: Mapping[str, Any]) -> dict[str, Any]:
        """Skip a finished chunk, else sync it in one transaction; returns its row count and checksum."""
        started = time.monotonic()
        work = dict(item)
        chunk = Chunk.from_dict(work["chunk"])
        source = OceanBaseHook(ob_conn_id=project.source.conn_id, session_time_zone="+00:00")
        kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
        done_key = checkpoints.chunk_done_key(work)
        tid = checkpoints.transactional_id(project.slug, "full", work["sync_id"], str(chunk.table), str(chunk.index))
        # Kafka's setup (fencing, then the checkpoint read) and the source's (table description, rendering
        # plan) are round trips to two services: they run side by side, which a chunk's start-up time halves.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="obkafka-fence") as pool:
            fenced = pool.submit(_fence_and_read, project, kafka, tid, work["topic"])
            try:
                ctx = self._context(project, source, work)
                fast, problem = self._server_rendering(project, source, ctx), None
            except Exception as exc:  # raised below unless the chunk is done (its table may be gone since)
                problem = exc
            sink, state, limit = fenced.result()
        finished = state.get(checkpoints.finished_key(work["sync_id"]))
        if done_key in state or finished is not None:
            record = cast("dict[str, Any]", state.get(done_key, finished))  # one of them is there
            self.log.info("%s is already synchronized (%s): skipped", chunk.describe(), record)
            return {**record, "skipped": True}
        if problem is not None:
            with fail_fast():
                raise problem
        guard = _oversize_guard(project, chunk, limit)
        try:
            result = self._sync(project, source, sink, ctx, work, chunk, done_key, fast, guard)
        except MessageTooLargeError as exc:  # oversize_rows: fail; a retry would meet the same row
            raise AirflowFailException(str(exc)) from exc
        self.log.info("%s: %d rows committed, checksum %d", chunk.describe(), result.rows, result.checksum)
        if guard.counts.committed:
            self.log.warning("%s: %d row(s) too large for Kafka not sent to %s (oversize_rows: %s)", chunk.describe(),
                             guard.counts.committed.total(), work["topic"], guard.policy)  # fmt: skip
        ProjectMetrics(project.slug, "full").chunk(str(chunk.table), result.rows, time.monotonic() - started)
        self._rows_written = getattr(self, "_rows_written", 0) + result.rows
        return self._record(work, chunk, result, guard.counts)

    def _context(self, project: SyncProject, source: OceanBaseHook, work: Mapping[str, Any]) -> TableContext:
        """The table's serialization context: selected columns, key and shard columns, source identity."""
        chunk = work["chunk"]
        schema = source.describe_table(chunk["database"], chunk["table"])
        wanted = set(work["columns"]) | set(schema.row_key()) | set(work["shard_columns"]) | set(chunk["key_columns"])
        info = source.server_info()
        return build_table_context(
            schema,
            columns=work["columns"],
            shard_columns=work["shard_columns"] or None,
            image_columns=[name for name in schema.column_names if name in wanted],
            db_type=DbType.OB_MYSQL if info.is_oceanbase else DbType.MYSQL,
            tenant=source.login.tenant,
            business_system_id=project.options.business_system_id,
        )

    def _sync(
        self, project: SyncProject, source: OceanBaseHook, sink: TransactionalSink, ctx: TableContext,
        work: Mapping[str, Any], chunk: Chunk, done_key: str, fast: render.ServerRenderPlan | None,
        guard: OversizeGuard,
    ) -> ChunkResult:  # fmt: skip
        """Stream the chunk's rows at the snapshot and commit them with its done-record (`commit_chunk`)."""
        options = project.options
        encode = row_encoder(serializer_for(options.serialization,
                                            intra_transaction_sequence=options.intra_transaction_sequence), ctx)
        if fast is None:
            sql, params = select_chunk_sql(ctx.schema, ctx.image_columns, chunk.key_columns, chunk, work["scn"])
        else:
            sql, params = select_chunk_sql(
                ctx.schema, None, chunk.key_columns, chunk, work["scn"], expressions=fast.expressions
            )
            encode = fast.encode
        bytes_rows = fast is not None and not fast.python_columns  # every column a binary string
        rows = source.stream_batches(sql, params, temporal_as_text=True, bytes_rows=bytes_rows)
        progress = Progress(chunk.describe(), work.get("expected_rows"), self.progress_every)
        return commit_chunk(sink, work["topic"], partition_rule(options.partitioning), rows, encode, progress,
                            (done_key, lambda result: self._record(work, chunk, result, guard.counts)),
                            guard)  # fmt: skip

    def _server_rendering(
        self, project: SyncProject, source: OceanBaseHook, ctx: TableContext
    ) -> render.ServerRenderPlan | None:
        """Server rendering of the chunk's messages when it gives the same bytes, else None (logged why)."""
        table = ctx.schema.ref
        if not self.render_on_server:
            reason = "render_on_server=False"
        elif type(serializer_for(project.options.serialization)) is not DefaultSerializer:
            reason = "only Default messages are rendered on the server"
        elif source.extras.charset.lower() != "utf8mb4":
            reason = f"the connection's charset is {source.extras.charset}, not utf8mb4"
        else:
            try:
                with contextlib.closing(source.get_conn()) as conn, conn.cursor() as cur:
                    found, reason = render.plan(ctx, probe_json_quote(cur))
                    if found is not None:  # the server must accept the SELECT list on a row of the table
                        select = ", ".join(found.expressions).replace("%%", "%")
                        cur.execute(f"SELECT {select} FROM {qualified_name(ctx.schema)} LIMIT 1")
                        cur.fetchall()
            except Exception as exc:  # a server lacking a function, a type it rejects: Python works anyway
                self.log.warning("%s: server rendering is not possible here: %s", table, exc)
                found, reason = None, f"the server rejected the rendering SQL ({exc})"
            if found is not None:
                python = ", ".join(found.python_columns) or "none"
                self.log.info("%s: rendered on the server (columns rendered in Python: %s)", table, python)
                return found
        self.log.info("%s: rendered in Python: %s", table, reason)
        return None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (when its provider is installed): the chunks' tables in, their topic out, rows written."""
        items = work_chunks(self.work)
        tables = sorted({f"{item['chunk']['database']}.{item['chunk']['table']}" for item in items})
        topics = sorted({item["topic"] for item in items})
        rows = getattr(self, "_rows_written", None)
        written = None if rows is None or len(topics) != 1 else {topics[0]: rows}
        return sync_lineage(load_project(self.project), tables, topics, written)

    @staticmethod
    def _record(
        work: Mapping[str, Any], chunk: Chunk, result: ChunkResult, oversize: OversizeCounts | None = None
    ) -> dict[str, Any]:
        """
        The chunk's done-record and XCom value. Its key range (`range`: key columns and bounds, as
        `Chunk.to_dict` writes them) and snapshot SCN let `verify` re-read exactly the chunk's rows.
        `oversize_rows`: rows too large for Kafka, skipped or dead-lettered (only when there were any).
        """
        diverted = sum((oversize.pending + oversize.committed).values()) if oversize is not None else 0
        return {
            "sync_id": work["sync_id"],
            "table": str(chunk.table),
            "chunk": chunk.index,
            "topic": work["topic"],
            "rows": result.rows,
            "checksum": result.checksum,
            "scn": work.get("scn"),
            "range": {name: value for name, value in chunk.to_dict().items()
                      if name in ("key_columns", "lower", "upper", "rows_slice")},  # fmt: skip
        } | ({"oversize_rows": diverted} if diverted else {})


def _oversize_guard(project: SyncProject, chunk: Chunk, limit: MessageLimit) -> OversizeGuard:
    """The chunk's table's `oversize_rows` policy against its topic's message size `limit`."""
    where = chunk.describe()
    return OversizeGuard(project.oversize_rows(*chunk.table), limit, str(chunk.table), lambda: where,
                         OversizeCounts(), (project.dead_letter_topic, project.name))  # fmt: skip


def _fence_and_read(
    project: SyncProject, kafka: KafkaHook, transactional_id: str, topic: str
) -> tuple[TransactionalSink, dict[str, Any], MessageLimit]:
    """
    The sink of the chunk's transactional producer, and the project's checkpoints read after it:
    `init_transactions()` fences (and aborts) an earlier try of this chunk before its done-record is looked for;
    and the message size limit of the chunk's topic.
    """
    config, reports = sink_producer_config(project.options.transaction_timeout_ms)
    producer = kafka.producer(transactional_id=transactional_id, **config)
    sink = TransactionalSink(producer, project.checkpoint_topic, reports)
    return sink, checkpoint_state(project, kafka), message_limits(project)(topic)
