"""Checkpoint records: what a project has committed to Kafka, kept in its compacted checkpoint topic.

Every record is written in the same Kafka transaction as the data it covers, so a `read_committed`
reader sees a checkpoint exactly when it sees the data. Keys are plain text paths; values are JSON.

- `snapshot/<sync_id>`: the snapshot point a full synchronization reads at (SCN, binlog position).
- `chunk/<sync_id>/<database>.<table>/<index>`: a finished full-sync chunk, its row count and checksum;
  `.../range-<hash of its key range>` where there is no snapshot (MySQL, MariaDB: `chunk_range_key`).
- `full/finished/<sync_id>`: a finished full synchronization; its chunk done-records and snapshot record
  are tombstoned in the same transaction (`finish_records`).
- `full/last-snapshot`: the snapshot point of the latest full synchronization; incremental sync starts there.
- `incremental/position`: where the incremental synchronization resumes (the next event to read), and the
  last sort sequence it gave (`store_data_sequence`, `engine/serializers/sequence.py`): the resumed stream
  numbers its messages above it. Inside a source transaction split across Kafka transactions
  (`options.max_changes_per_kafka_transaction`), the position is the transaction's start and
  `committed_in_transaction` how many of its changes are committed (`engine/pipeline/incremental.py`).
- `incremental/backfill/<interval start>`: one backfill run's progress over its data interval: the next
  position to read, the interval's end position, `done` once the whole interval is committed, and its own
  last sort sequence. It never touches `incremental/position`.
- `schema/<database>.<table>`: the table's schema history (`engine/binlog/schema_history.py`): its definition
  from each DDL position on, written in the same transaction as the rows after the DDL.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.models.topic import TopicSpec

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: Compacted, compaction allowed at once, and segments rolled every 10 minutes: the cleaner never compacts the
#: active segment, so with Kafka's default (7 days) a checkpoint topic would keep every record for a week.
CHECKPOINT_TOPIC_CONFIGS = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "600000"}


def checkpoint_topic_spec(topic: str, brokers: int) -> TopicSpec:
    """
    A project's checkpoint topic on a cluster of `brokers` brokers: one partition (one order for every record),
    replication factor `min(3, brokers)` and `min.insync.replicas` `min(2, replication factor)`, whatever the
    data topics use: losing a checkpoint loses the position of everything written. The first step of a
    project's DAG creates it (schema, full or incremental synchronization, whichever runs first).
    """
    replication = max(1, min(3, brokers))
    configs = {**CHECKPOINT_TOPIC_CONFIGS, "min.insync.replicas": str(min(2, replication))}
    return TopicSpec(topic, 1, replication, configs)


def sync_id_for(run_key: str) -> str:
    """A short, stable id for one full synchronization, derived from what identifies its run."""
    return hashlib.sha256(run_key.encode("utf-8")).hexdigest()[:16]


def snapshot_key(sync_id: str) -> str:
    """Key of the snapshot record of one full synchronization."""
    return f"snapshot/{sync_id}"


def chunk_key(sync_id: str, database: str, table: str, index: int) -> str:
    """Key of the done-record of one chunk of a full sync read at one snapshot (OceanBase)."""
    return f"chunk/{sync_id}/{database}.{table}/{index}"


def chunk_range_key(sync_id: str, database: str, table: str, bounds: Mapping[str, Any]) -> str:
    """
    Key of the done-record of one chunk, by its key range (`key_columns`, `lower`, `upper` as
    `Chunk.to_dict` writes them). Without a snapshot (MySQL, MariaDB) a plan made again reads live data
    and cuts other ranges: a done-record then matches only the very range it covered, never another
    chunk with the same index.
    """
    wanted = {name: bounds[name] for name in ("key_columns", "lower", "upper")}
    digest = hashlib.sha256(encode(wanted)).hexdigest()[:24]
    return f"chunk/{sync_id}/{database}.{table}/range-{digest}"


def chunk_done_key(work: Mapping[str, Any]) -> str:
    """
    The done-record key of a full-sync work item (`sync_id`, `scn`, `chunk`): by index at a snapshot
    (OceanBase: a plan made again cuts the same ranges), by key range without one (MySQL, MariaDB: a plan
    made again reads live data and may cut others).
    """
    chunk = work["chunk"]
    if work["scn"] is None:
        return chunk_range_key(work["sync_id"], chunk["database"], chunk["table"], chunk)
    return chunk_key(work["sync_id"], chunk["database"], chunk["table"], int(chunk["index"]))


def finished_key(sync_id: str) -> str:
    """Key of the record that says a full synchronization is finished; kept, so its chunks stay skipped."""
    return f"full/finished/{sync_id}"


def finish_records(
    sync_id: str, state: Mapping[str, Mapping[str, Any]], done_keys: Iterable[str]
) -> list[tuple[str, dict[str, Any] | None]]:
    """
    What closes a full synchronization, for one transaction: its finished record, then a tombstone for every
    record of the full syncs finished before it (their chunk done-records, snapshot and finished records)
    and for its own done-records of abandoned plans (not in `done_keys`). Its own done-records and snapshot
    stay: they are what `verify` checks the topics against, until the next full sync finishes.

    :raises CheckpointError: a chunk of `done_keys` has no done-record: the full sync is not finished
    """
    wanted = list(done_keys)
    missing = [key for key in wanted if key not in state]
    if missing:
        raise CheckpointError(f"full synchronization {sync_id} is not finished: {len(missing)} chunk(s) have no "
                              f"done-record, e.g. {missing[0]}; run its failed chunks first")  # fmt: skip
    rows = sum(int(state[key].get("rows", 0)) for key in wanted)
    record = {"sync_id": sync_id, "chunks": len(wanted), "rows": rows}
    kept = set(wanted)
    ended = sorted(key for key in state if key.startswith(f"chunk/{sync_id}/") and key not in kept)
    finished_prefix = finished_key("")
    for key in sorted(state):
        earlier = key[len(finished_prefix):] if key.startswith(finished_prefix) else None
        if earlier and earlier != sync_id:
            ended += sorted(k for k in state if k.startswith(f"chunk/{earlier}/"))
            ended += [k for k in (snapshot_key(earlier), key) if k in state]
    return [(finished_key(sync_id), record), *((key, None) for key in ended)]


INCREMENTAL_KEY = "incremental/position"


def backfill_key(interval_start: str) -> str:
    """Key of a backfill's progress record; `interval_start` is the data interval's start, ISO 8601 in UTC."""
    return f"incremental/backfill/{interval_start}"


LAST_FULL_SYNC_KEY = "full/last-snapshot"
SCHEMA_PREFIX = "schema/"


def schema_key(database: str, table: str) -> str:
    """Key of a table's schema history record (the record names its database and table too)."""
    return f"{SCHEMA_PREFIX}{database}.{table}"


def schema_records(state: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The schema history records of a checkpoint state, by database and table."""
    return {(value["database"], value["table"]): value for key, value in state.items()
            if key.startswith(SCHEMA_PREFIX) and value}  # fmt: skip


def encode(value: Mapping[str, Any]) -> bytes:
    """A checkpoint value as compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")


def decode(raw: bytes | None) -> dict[str, Any] | None:
    """A checkpoint value from JSON bytes; None for a tombstone."""
    return None if raw is None else json.loads(raw)


def latest(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, dict[str, Any]]:
    """The last value of every key, as compaction keeps it; a tombstone removes the key."""
    state: dict[str, dict[str, Any]] = {}
    for key, value in records:
        if key is None:
            continue
        name = key.decode("utf-8")
        decoded = decode(value)
        if decoded is None:
            state.pop(name, None)
        else:
            state[name] = decoded
    return state


def transactional_id(project_slug: str, *parts: str) -> str:
    """
    A transactional.id for one unit of work. The same unit always gets the same id, so a retry fences the
    previous attempt (its open transaction is aborted) before it starts; a hash of the exact text keeps
    two units whose names differ only in characters Kafka ids avoid from sharing an id.
    """
    text = "/".join((project_slug, *parts))
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:160]
    return f"obkafka.{readable}.{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def transactional_id_prefix(project_slug: str) -> str:
    """What every transactional.id of the project starts with: the PREFIXED pattern of its ACL."""
    return "obkafka." + re.sub(r"[^A-Za-z0-9._-]", "_", project_slug)[:150]
