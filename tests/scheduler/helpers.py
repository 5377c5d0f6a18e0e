"""What the scheduler tests share: Kafka read-back per key, and the source tables' rows to compare with."""

from __future__ import annotations

import json
from collections import defaultdict
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
    return {
        str(row[columns.index(key)]): {name: None if value is None else str(value) for name, value in zip(columns, row, strict=True)}
        for row in cur.fetchall()
    }


def as_text(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows with every value as text (numbers in JSON compared with the source's text form)."""
    return {key: {name: None if value is None else str(value) for name, value in row.items()} for key, row in rows.items()}
