"""What the scheduler tests share: Kafka read-back per key, and the source tables' rows to compare with."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_obkafka.hooks.kafka import KafkaHook


def records_per_key(kafka: KafkaHook, topic: str, timeout: float = 120.0) -> dict[str, list[dict[str, Any]]]:
    """Every committed message of ``topic`` (read_committed), per key, in offset order (a key has one partition)."""
    per_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    messages = sorted(kafka.read_committed(topic, timeout=timeout), key=lambda m: (m.partition(), m.offset()))
    for message in messages:
        per_key[message.key().decode()].append(json.loads(message.value()))
    return dict(per_key)


def final_state(per_key: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The row image each key ends with once its messages are applied in order (a DELETE removes the key)."""
    state: dict[str, dict[str, Any]] = {}
    for key, records in per_key.items():
        for record in records:
            if record["recordType"] == "DELETE":
                state.pop(key, None)
            else:
                state[key] = record["postStruct"]
    return state


def table_rows(cur: Any, db: str, table: str, columns: list[str], key: str = "id") -> dict[str, dict[str, Any]]:
    """The table's rows by key, values as the Default format writes them (text)."""
    cur.execute(f"SELECT {', '.join(columns)} FROM {db}.{table}")
    return as_text({str(row[columns.index(key)]): dict(zip(columns, row, strict=True)) for row in cur.fetchall()})


def as_text(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows with every value as text (numbers in JSON compared with the source's text form)."""
    return {key: {name: None if v is None else str(v) for name, v in row.items()} for key, row in rows.items()}


class Writer(threading.Thread):
    """
    Commits one-row transactions on ``table`` (id, qty, note): inserts, updates, deletes, about 20 a second,
    from ``start_at`` (epoch seconds) until stopped or ``stop_at``, in bursts of ``burst_s`` seconds with
    ``pause_s`` seconds between them (no pause: one burst); counts the changes per key.
    """

    def __init__(self, conn: Any, table: str, next_id: int, start_at: float = 0.0, stop_at: float | None = None,
                 burst_s: float = 1e9, pause_s: float = 0.0):  # fmt: skip
        super().__init__(daemon=True)
        self.conn, self.table, self.next_id = conn, table, next_id
        self.start_at, self.stop_at, self.burst_s, self.pause_s = start_at, stop_at, burst_s, pause_s
        self.changes: Counter[str] = Counter()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(14)
        time.sleep(max(0.0, self.start_at - time.time()))
        began = time.monotonic()
        try:
            with self.conn.cursor() as cur:
                while not self.stop.is_set() and (self.stop_at is None or time.time() < self.stop_at):
                    if (time.monotonic() - began) % (self.burst_s + self.pause_s) < self.burst_s:
                        self._one(cur, rng)
                    time.sleep(0.05)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _one(self, cur: Any, rng: random.Random) -> None:
        cur.execute(f"SELECT id FROM {self.table} ORDER BY RAND() LIMIT 1")
        found = cur.fetchone()
        kind = rng.choice(("insert", "update", "update", "delete")) if found else "insert"
        if kind == "insert":
            key, self.next_id = self.next_id, self.next_id + 1
            cur.execute(f"INSERT INTO {self.table} VALUES (%s, 0, 'new')", (key,))
        elif kind == "update":
            key = found[0]
            cur.execute(f"UPDATE {self.table} SET qty = qty + 1, note = 'upd' WHERE id = %s", (key,))
        else:
            key = found[0]
            cur.execute(f"DELETE FROM {self.table} WHERE id = %s", (key,))
        self.changes[str(key)] += 1
