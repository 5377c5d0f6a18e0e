"""
`verify` on the hooks: builds each table's check from the project and the checkpoints, and gives the engine's
comparisons (`engine/verify`) the topic's committed messages and the source's rows. Shared by `VerifyOperator`
and the command `python -m airflow_provider_obkafka verify`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.changes.change import DbType
from airflow_provider_obkafka.engine.changes.compile import build_table_context
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.pipeline.full import row_encoder
from airflow_provider_obkafka.engine.routing.plan import resolve
from airflow_provider_obkafka.engine.serializers import serializer_for
from airflow_provider_obkafka.engine.snapshot.chunking import Chunk
from airflow_provider_obkafka.engine.snapshot.sql import qualified_name, quote_ident, select_chunk_sql
from airflow_provider_obkafka.engine.verify.check import TableCheck, TopicMessage
from airflow_provider_obkafka.engine.verify.full import verify_full
from airflow_provider_obkafka.engine.verify.messages import DETERMINISTIC, parser_for
from airflow_provider_obkafka.engine.verify.report import Difference, DiffKind, VerifyReport
from airflow_provider_obkafka.engine.verify.state import verify_state
from airflow_provider_obkafka.exceptions import CheckpointError, ConfigError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.naming import SyncType
from airflow_provider_obkafka.models.position import BinlogPosition, SnapshotPoint
from airflow_provider_obkafka.operators._project import checkpoint_state

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_obkafka.engine.routing.plan import TablePlan
    from airflow_provider_obkafka.models.project import SyncProject

__all__ = ["VerifySettings", "verify_project"]

log = logging.getLogger(__name__)
MODES = ("auto", "full", "incremental")


@dataclass(frozen=True)
class VerifySettings:
    """
    How to verify.

    :param mode: `full`, `incremental`, or `auto` (each the project's sync types and checkpoints allow)
    :param tables: `database.table` names to verify instead of all the project's tables
    :param max_keys: rows held in memory at once (a chunk larger than that is held alone)
    :param rechecks: incremental: how often a differing key is compared again before it is reported
    :param settle_timeout_s: incremental: how long to wait for the checkpoint to reach the source's position
    :param clock_skew_s: full: messages written this long before the snapshot was taken still count
    :param topic_timeout_s: the longest read of one topic
    """

    mode: str = "auto"
    tables: tuple[str, ...] = ()
    max_keys: int = 1_000_000
    rechecks: int = 2
    settle_timeout_s: float = 120.0
    clock_skew_s: float = 60.0
    topic_timeout_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"verify mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.max_keys < 1 or self.rechecks < 0:
            raise ConfigError(f"max_keys must be >= 1 and rechecks >= 0, got {self.max_keys} and {self.rechecks}")


class _Io:
    """The engine's I/O protocols (`FullIo`, `StateIo`) on the project's hooks."""

    def __init__(self, project: SyncProject, settings: VerifySettings, scn: int | None = None) -> None:
        self.project, self.settings, self.scn = project, settings, scn
        self.source = OceanBaseHook(ob_conn_id=project.source.conn_id, session_time_zone="+00:00")
        self.kafka = KafkaHook(kafka_config_id=project.destination.conn_id)

    def messages(self, topic: str) -> Iterator[TopicMessage]:
        for m in self.kafka.iter_committed(topic, timeout=self.settings.topic_timeout_s, idle=10.0):
            partition, offset = m.partition(), m.offset()
            assert partition is not None  # both set on every consumed message
            assert offset is not None
            yield TopicMessage(m.key(), m.value(), partition, offset, m.timestamp()[1])

    def chunk_rows(self, check: TableCheck, chunk: Chunk) -> Iterator[list[tuple[Any, ...]]]:
        sql, params = select_chunk_sql(check.ctx.schema, check.ctx.image_columns, chunk.key_columns, chunk, self.scn)
        return self.source.stream_batches(sql, params, temporal_as_text=True)

    def table_rows(self, check: TableCheck) -> Iterator[list[tuple[Any, ...]]]:
        columns = ", ".join(quote_ident(name) for name in check.ctx.image_columns)
        return self.source.stream_batches(f"SELECT {columns} FROM {qualified_name(check.ctx.schema)}",
                                          temporal_as_text=True)  # fmt: skip

    def count_rows(self, check: TableCheck) -> int:
        return int(self.source.get_first(f"SELECT COUNT(*) FROM {qualified_name(check.ctx.schema)}")[0])

    def settle(self) -> str:
        """Wait (up to `settle_timeout_s`) until the incremental checkpoint reaches the source's position now."""
        target = self.source.binlog_position()
        deadline = time.monotonic() + self.settings.settle_timeout_s
        while True:
            record = checkpoint_state(self.project, self.kafka).get(checkpoints.INCREMENTAL_KEY)
            reached = None if record is None else BinlogPosition(**{k: record[k] for k in ("file", "position")})
            covered = reached is not None and reached.sort_key() >= target.sort_key()
            if covered or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        where = "none" if reached is None else f"{reached.file}:{reached.position}"
        verdict = "covers it" if covered else f"does not reach it after {self.settings.settle_timeout_s:g} s"
        return f"source binlog {target.file}:{target.position}, topic checkpoint {where} ({verdict})"


def verify_project(project: SyncProject, settings: VerifySettings) -> list[VerifyReport]:
    """Verify a project's topics against its tables: one report per mode verified."""
    io = _Io(project, settings)
    state = checkpoint_state(project, io.kafka)
    plan = resolve(project, io.source.list_tables, io.source.describe_table, only=list(settings.tables) or None)
    plan.raise_for_problems(project)
    full = settings.mode == "full" or (settings.mode == "auto" and SyncType.FULL in project.sync_types)
    incremental = settings.mode == "incremental" or (
        settings.mode == "auto" and SyncType.INCREMENTAL in project.sync_types
    )
    reports = []
    if full:
        reports.append(_verify_full(project, settings, io, state, plan.tables))
    if incremental:
        if checkpoints.INCREMENTAL_KEY not in state:
            raise CheckpointError(f"project {project.name!r} has no incremental checkpoint yet: nothing to verify "
                                  "after incremental synchronization; run it first, or verify with mode full")
        checks = [_check(project, io, table) for table in plan.tables]
        report = VerifyReport("incremental")
        reports.append(verify_state(checks, io, report, max_keys=settings.max_keys, rechecks=settings.rechecks))
    return reports


def _check(project: SyncProject, io: _Io, table: TablePlan, **kw: Any) -> TableCheck:
    """A table's check: its serialization context built as the sync builds it, the encoder and the parser."""
    schema = table.schema
    shard = table.settings.shard_columns
    wanted = set(table.columns()) | set(schema.row_key()) | set(shard or ())
    info = io.source.server_info()
    ctx = build_table_context(
        schema, columns=table.columns(), shard_columns=shard or None,
        image_columns=[name for name in schema.column_names if name in wanted],
        db_type=DbType.OB_MYSQL if info.is_oceanbase else DbType.MYSQL, tenant=io.source.login.tenant,
        business_system_id=project.options.business_system_id,
    )  # fmt: skip
    options = project.options
    serializer = serializer_for(options.serialization, intra_transaction_sequence=options.intra_transaction_sequence)
    method = options.serialization.value
    return TableCheck(ctx, table.topic, row_encoder(serializer, ctx), parser_for(method),
                      deterministic=method in DETERMINISTIC, **kw)  # fmt: skip


def _verify_full(
    project: SyncProject, settings: VerifySettings, io: _Io, state: dict[str, Any], tables: Sequence[TablePlan]
) -> VerifyReport:
    """The last full synchronization's chunks, each compared at its snapshot."""
    last = state.get(checkpoints.LAST_FULL_SYNC_KEY)
    if last is None:
        raise CheckpointError(f"project {project.name!r} has no completed full synchronization snapshot in "
                              f"{project.checkpoint_topic!r}: run the full synchronization first")  # fmt: skip
    point = SnapshotPoint.model_validate(last)
    io.scn = point.scn
    report = VerifyReport("full", point=f", at snapshot SCN {point.scn}" if point.scn else ", at the current data")
    if point.scn is None:
        report.notes.append("the source has no snapshot reads (not OceanBase): the current rows are compared, "
                            "so the table must not have changed since the full synchronization")  # fmt: skip
    checks = []
    for table in tables:
        records = _done_records(state, last["sync_id"], table)
        if not records:
            report.notes.append(f"{table.ref}: not in full synchronization {last['sync_id']}: not compared")
            continue
        chunks = [Chunk.from_dict({**r["range"], **table.ref._asdict(), "index": i}) for i, r in records.items()]
        _check_coverage(str(table.ref), chunks, report)
        checks.append(_check(project, io, table, chunks=chunks, records=records))
    since_ms = int((point.taken_at.timestamp() - settings.clock_skew_s) * 1000)
    return verify_full(checks, io, report, since_ms=since_ms, max_keys=settings.max_keys)


def _done_records(state: dict[str, Any], sync_id: str, table: TablePlan) -> dict[int, dict[str, Any]]:
    """The table's done-records of one full synchronization, by chunk index, in order."""
    prefix = checkpoints.chunk_key(sync_id, table.ref.database, table.ref.table, 0)[:-1]
    found = {int(key[len(prefix):]): value for key, value in state.items() if key.startswith(prefix)}
    for index, record in found.items():
        if "range" not in record:
            raise CheckpointError(f"done-record {prefix}{index} has no key range (written by an older version): "
                                  "run the table's full synchronization again to verify it")  # fmt: skip
    return dict(sorted(found.items()))


def _check_coverage(table: str, chunks: list[Chunk], report: VerifyReport) -> None:
    """A difference when the done chunks leave a gap in the key space (the full sync did not finish)."""
    gaps = [f"before chunk {c.index}" for p, c in zip([None, *chunks], chunks, strict=False)
            if (p.upper if p is not None else None) != c.lower]  # fmt: skip
    if chunks and chunks[-1].upper is not None:
        gaps.append(f"after chunk {chunks[-1].index}")
    if gaps:
        report.add(Difference(DiffKind.RECORD, table, ", ".join(gaps), "done-records",
                              "no done-record covers these keys: the full synchronization did not finish"))
