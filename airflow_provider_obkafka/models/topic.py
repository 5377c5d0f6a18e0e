"""A Kafka topic to create, as schema synchronization asks for it."""

from __future__ import annotations

from typing import NamedTuple


class TopicSpec(NamedTuple):
    """A topic to create: name, partitions, replication factor and topic configs."""

    name: str
    partitions: int = 3
    replication_factor: int = 1
    configs: dict[str, str] = {}
