"""
The options sections of a synchronization project as frozen pydantic models, with their field rules: OMS
Advanced Options (`Options`) and the settings of the topics the project creates (`TopicDefaults`).
`project.SyncProject` assembles them with the other sections (`sections`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from airflow_provider_obkafka.models.field_types import StrictBool, StrictInt, _between
from airflow_provider_obkafka.models.naming import (
    BusinessId,
    KeyChange,
    KeyChangeName,
    Partitioning,
    PartitioningName,
    Serialization,
    SerializationName,
)
from airflow_provider_obkafka.models.oversize import OversizeRows, OversizeRowsName
from airflow_provider_obkafka.models.sections import _Frozen

#: 15 minutes: the brokers' default `transaction.max.timeout.ms`, so the default is never refused.
DEFAULT_TRANSACTION_TIMEOUT_MS = 900_000
TRANSACTION_TIMEOUT_RANGE_MS = (1000, 2_147_483_647)  # what librdkafka accepts


def _between_ms(low: int, high: int) -> AfterValidator:
    """`transaction_timeout_ms` within librdkafka's range, with the fix in the message."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be {low} to {high} milliseconds, and at most the brokers' transaction.max."
                             f"timeout.ms (Kafka's default: {DEFAULT_TRANSACTION_TIMEOUT_MS}); leave it out for "
                             f"{DEFAULT_TRANSACTION_TIMEOUT_MS} (15 minutes)")  # fmt: skip
        return value

    return AfterValidator(check)


class Options(_Frozen):
    """
    OMS Advanced Options.

    :param serialization: Serialization Method (UI or API name, any case)
    :param intra_transaction_sequence: Enable Intra-transaction Sequence (numbers the DML of a transaction)
    :param partitioning: Partitioning Rules, Hash or One
    :param business_system_id: Business System Identification (Optional), 1 to 20 characters
    :param key_change: how incremental sync writes an UPDATE that changes the Kafka key: `update` (one
        UPDATE under the new key, as OMS) or `delete_then_insert` (a DELETE under the old key, then an INSERT
        under the new one, so compacted topics and upsert sinks drop the old row); not an OMS option
    :param tombstones_on_delete: after each DELETE of a keyed row, a tombstone (the same key, a null value),
        as Debezium writes, so compaction removes the key; not an OMS option
    :param transaction_timeout_ms: the producers' `transaction.timeout.ms`: how long one Kafka transaction (a
        chunk, a batch of changes) may stay open before the broker aborts it; at most the brokers'
        `transaction.max.timeout.ms` (the precheck compares them)
    :param chunk_size: rows per full-sync chunk (one mapped `full_sync` task instance each, unless
        `full_sync_work_items` packs them), 1 to 100,000,000
    :param full_sync_work_items: at most this many mapped `full_sync` task instances, each synchronizing its
        consecutive chunks one after another (each chunk its own Kafka transaction), 1 to 100,000; None: one
        per chunk, up to `[core] max_map_length`. Fewer task instances pay fewer task starts (seconds each):
        set it near the executor slots the full sync may use
    :param chunk_max_bytes: full sync: a chunk also holds at most this many bytes of row values (the widest
        row at the snapshot sets a table's rows per chunk), 1,024 to 2^40; None: `chunk_size` rows only
    :param render_on_server: full sync in Default format: let the source write each row's JSON when it gives
        the same bytes (`FullSyncOperator`'s `render_on_server`); false: always render in Python
    :param defer_hold_s: incremental sync: the trigger fires no sooner than this many seconds after the task
        deferred, 0 to 600: under Airflow 3.3's scheduler a resume that starts before the scheduler has seen the
        deferring process exit is taken for a killed task and retried (docs/dags.md); not an OMS option
    :param idle_before_defer_s: continuous incremental sync: seconds without a new change after which the
        worker gives its slot back and waits in the triggerer, 0 to 3600; 0 defers after every range of changes
    :param batch_size: incremental sync: row changes per Kafka transaction (each committed with its
        checkpoint), and how many committed changes wake the trigger, 1 to 1,000,000
    :param retry_for_s: incremental sync: how long an outage of the source or Kafka is waited out (backoff
        up to 30 s between attempts) before the task fails, 0 to 604,800 (a week); 0 fails at the first error
    :param max_changes_per_kafka_transaction: incremental sync: a source transaction with more changes goes
        out in several Kafka transactions of at most this many, each committed with a checkpoint inside the
        source transaction (so it commits within `transaction_timeout_ms` and a crash resumes where it
        stopped); 1 to 100,000,000; not an OMS option
    :param oversize_rows: what to do with a row whose Kafka message is larger than the producer's
        `message.max.bytes` or the topic's `max.message.bytes`: `fail` (the task fails for good, naming the
        row, its size, the limit and the fix), `skip` (the row is left out, with a WARNING) or `dead_letter`
        (a record naming the row goes to the project's dead-letter topic); objects[] entries and their
        `table_settings` override it per table; not an OMS option
    """

    serialization: SerializationName = Serialization.DEFAULT
    intra_transaction_sequence: StrictBool = False
    partitioning: PartitioningName = Partitioning.HASH
    business_system_id: BusinessId | None = None
    key_change: KeyChangeName = KeyChange.UPDATE
    tombstones_on_delete: StrictBool = False
    transaction_timeout_ms: Annotated[StrictInt, _between_ms(*TRANSACTION_TIMEOUT_RANGE_MS)] = (
        DEFAULT_TRANSACTION_TIMEOUT_MS
    )
    chunk_size: Annotated[StrictInt, _between(1, 100_000_000, "chunk_size")] = 100_000
    chunk_max_bytes: Annotated[StrictInt, _between(1024, 2**40, "chunk_max_bytes")] | None = None
    full_sync_work_items: Annotated[StrictInt, _between(1, 100_000, "full_sync_work_items")] | None = None
    render_on_server: StrictBool = True
    idle_before_defer_s: Annotated[StrictInt, _between(0, 3600, "idle_before_defer_s")] = 30
    defer_hold_s: Annotated[StrictInt, _between(0, 600, "defer_hold_s")] = 10
    batch_size: Annotated[StrictInt, _between(1, 1_000_000, "batch_size")] = 10_000
    retry_for_s: Annotated[StrictInt, _between(0, 604_800, "retry_for_s")] = 600
    max_changes_per_kafka_transaction: Annotated[
        StrictInt, _between(1, 100_000_000, "max_changes_per_kafka_transaction")
    ] = 100_000
    oversize_rows: OversizeRowsName = OversizeRows.FAIL


class TopicDefaults(_Frozen):
    """
    Settings of the topics schema synchronization creates (new and batch topics).

    :param partitions: partitions per topic, 1 to 10000 (OMS: 3)
    :param replication_factor: replicas per partition, 1 to 32 (OMS: 1)
    :param configs: topic configs such as `retention.ms`; numbers and booleans are written as strings
    """

    partitions: Annotated[StrictInt, _between(1, 10000, "partitions")] = 3
    replication_factor: Annotated[StrictInt, _between(1, 32, "replication_factor")] = 1
    configs: dict[Annotated[str, Field(min_length=1)], str] = Field(default_factory=dict)

    @field_validator("configs", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {key: _as_text(item) for key, item in value.items()}


def _as_text(value: Any) -> Any:
    """A topic config value as Kafka writes it: `true`/`false` for booleans, digits for numbers."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value
