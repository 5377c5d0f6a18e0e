"""
What one change-log range is, for `engine/pipeline/incremental.py: produce_range`: the range itself
(`RangeJob`: its positions, checkpoint key, batching and pacing) and the services it reaches (`RangeIo`, with
the source side, `Source`), which the caller builds (the operator, from its hooks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.kafka.oversize import OversizeCounts

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_obkafka.engine.changes.change import DbType
    from airflow_provider_obkafka.engine.kafka.oversize import MessageLimit
    from airflow_provider_obkafka.engine.kafka.sink import TransactionalSink
    from airflow_provider_obkafka.engine.pipeline.copy_range import Pace
    from airflow_provider_obkafka.engine.pipeline.report import CommittedBatch
    from airflow_provider_obkafka.models.position import BinlogPosition
    from airflow_provider_obkafka.models.schema import TableSchema

__all__ = ["RangeIo", "RangeJob", "Source"]


@dataclass(frozen=True)
class Source:
    """
    The source side of one try at a range.

    :param binlog_settings: how to reach the change log (the reader's connection settings)
    :param describe: a table's current schema, by database and table
    :param db_type: OceanBase (`OB_MYSQL`: exact commit times in GTID events) or MySQL/MariaDB
    :param tenant: the OceanBase tenant, when known
    """

    binlog_settings: dict[str, Any]
    describe: Callable[[str, str], TableSchema]
    db_type: DbType
    tenant: str | None = None


@dataclass(frozen=True)
class RangeIo:
    """
    The services a range needs, each call opening anew (a retry reconnects).

    :param source: connect to the source
    :param sink: a transactional sink for a transactional.id, fenced (any earlier producer of it aborted)
    :param checkpoints: the project's committed checkpoints, the latest value per key
    :param create_topic: create a topic the project maps a new table to (idempotent), before its first row
    :param message_limit: a topic's message size limit (`engine/kafka/oversize.py`); None: librdkafka's default
    """

    source: Callable[[], Source]
    sink: Callable[[str], TransactionalSink]
    checkpoints: Callable[[], Mapping[str, Any]]
    create_topic: Callable[[str], None] | None = None
    message_limit: Callable[[str], MessageLimit] | None = None


@dataclass
class RangeJob:
    """
    One range to produce: `[start, end)` under the checkpoint `key`; with no `end`, from `start` on for as
    long as `pace` says (a streaming worker's open range).

    :param key: the checkpoint key that records progress (and fences nothing else)
    :param txn_parts: what names the transactional.id (one per unit of work: a retry fences the last try)
    :param value_of: the checkpoint value for a position (`done` at the end of the range)
    :param resume_of: the position a committed checkpoint value says to resume from
    :param server_id: the replica id the reader registers with
    :param batch_size: changes per Kafka transaction (None: the whole range in one)
    :param skip_committed_before_us: skip transactions with an exact OceanBase commit time before this (µs):
        the full sync's snapshot holds them (`engine/binlog/handoff.py`)
    :param by_gtid: read from a position's executed GTID set (when it has one), and order positions by it
    :param observe: called after each Kafka transaction is committed (`engine.pipeline.report`: the summary
        line and the metrics); None: each one is logged at DEBUG
    :param oversize: rows too large for Kafka that were skipped or dead-lettered, by table (`oversize_rows`)
    :param pace: an open range's commits and end (`engine/pipeline/copy_range.py`); required without `end`
    :param reached: set by each commit: the position the committed checkpoint holds
    """

    start: BinlogPosition
    end: BinlogPosition | None
    key: str
    txn_parts: tuple[str, ...]
    value_of: Callable[[BinlogPosition, bool], dict[str, Any]]
    resume_of: Callable[[dict[str, Any]], BinlogPosition]
    server_id: int
    batch_size: int | None = None
    skip_committed_before_us: int | None = None
    by_gtid: bool = False
    observe: Callable[[CommittedBatch], None] | None = None
    oversize: OversizeCounts = field(default_factory=OversizeCounts)
    pace: Pace | None = None
    reached: BinlogPosition | None = None
