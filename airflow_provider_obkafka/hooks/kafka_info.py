"""
What `hooks/kafka.py`'s `KafkaHook` reports about a cluster and its topics (`BrokerInfo`, `ClusterInfo`,
`TopicInfo`), and why an existing topic does not fit the spec of the topic to create (`topic_differences`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from airflow_provider_obkafka.models.topic import TopicSpec


class BrokerInfo(NamedTuple):
    """One broker of the cluster."""

    id: int
    host: str
    port: int


class ClusterInfo(NamedTuple):
    """
    What a probe of the cluster found. `protocol_version` is a broker's `inter.broker.protocol.version`
    (e.g. `3.9-IV0`; None when its configuration has none: Kafka 4.0 removed it); `version_error` says why
    the broker configuration could not be read (then `protocol_version` is None too).
    """

    cluster_id: str | None
    controller_id: int
    brokers: list[BrokerInfo]
    protocol_version: str | None
    version_error: str | None = None


class TopicInfo(NamedTuple):
    """A topic's partition count, replication factor and the configs asked about."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def topic_differences(spec: TopicSpec, found: TopicInfo) -> list[str]:
    """Why an existing topic does not fit a spec, each with the fix."""
    out = []
    if found.partitions != spec.partitions:
        out.append(
            f"topic {spec.name!r} has {found.partitions} partitions, the project asks for {spec.partitions}: "
            "change the project's partitions, or map the table to this topic as an existing topic"
        )
    if found.replication_factor != spec.replication_factor:
        out.append(
            f"topic {spec.name!r} has replication factor {found.replication_factor}, the project asks for "
            f"{spec.replication_factor}: change the project's replication factor or use another topic"
        )
    for key, value in spec.configs.items():
        if found.configs.get(key) != value:
            out.append(f"topic {spec.name!r} has {key}={found.configs.get(key)!r}, the project asks for {value!r}")
    return out
