"""Checkpoint records: what a project has committed to Kafka, kept in its compacted checkpoint topic.

Every record is written in the same Kafka transaction as the data it covers, so a `read_committed`
reader sees a checkpoint exactly when it sees the data. Keys are plain text paths; values are JSON.

- `snapshot/<sync_id>`: the snapshot point a full synchronization reads at (SCN, binlog position).
- `chunk/<sync_id>/<database>.<table>/<index>`: a finished full-sync chunk, its row count and checksum.
- `full/last-snapshot`: the snapshot point of the latest full synchronization; incremental sync starts there.
- `incremental/position`: where the incremental synchronization resumes (the next event to read).
- `incremental/backfill/<interval start>`: one backfill run's progress over its data interval: the next
  position to read, the interval's end position, and `done` once the whole interval is committed. It never
  touches `incremental/position`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

CHECKPOINT_TOPIC_CONFIGS = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}


def sync_id_for(run_key: str) -> str:
    """A short, stable id for one full synchronization, derived from what identifies its run."""
    return hashlib.sha256(run_key.encode("utf-8")).hexdigest()[:16]


def snapshot_key(sync_id: str) -> str:
    """Key of the snapshot record of one full synchronization."""
    return f"snapshot/{sync_id}"


def chunk_key(sync_id: str, database: str, table: str, index: int) -> str:
    """Key of the done-record of one chunk."""
    return f"chunk/{sync_id}/{database}.{table}/{index}"


INCREMENTAL_KEY = "incremental/position"


def backfill_key(interval_start: str) -> str:
    """Key of a backfill's progress record; `interval_start` is the data interval's start, ISO 8601 in UTC."""
    return f"incremental/backfill/{interval_start}"


LAST_FULL_SYNC_KEY = "full/last-snapshot"


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
