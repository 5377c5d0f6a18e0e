"""
Precheck rules for the topics, on facts already fetched: the existing topics a project maps to exist, and the
topics it creates (new and batch topics, the checkpoint topic) have valid names that no other topic collides
with, are free or exist compatibly, and fit the cluster's brokers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_obkafka.engine.kafka.checkpoints import checkpoint_topic_spec
from airflow_provider_obkafka.engine.precheck.objects import listed
from airflow_provider_obkafka.engine.precheck.report import Check, Finding, fail, ok, warn
from airflow_provider_obkafka.models.naming import KAFKA_TOPIC_RULE, SyncType, check_kafka_topic_name
from airflow_provider_obkafka.models.topic import TopicSpec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_obkafka.models.project import SyncProject


class TopicState(NamedTuple):
    """An existing topic: partitions, replication factor and the configs asked about."""

    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


def created_specs(project: SyncProject, topics: Mapping[str, str], brokers: int | None) -> list[TopicSpec]:
    """
    The topics the project creates (as `engine.routing.plan.topic_specs`): new and batch topics (schema
    synchronization), and last the checkpoint topic (the first step, whichever it is; for one broker when
    `brokers` is unknown).
    """
    defaults = project.topic_defaults
    specs = [
        TopicSpec(topic, defaults.partitions, defaults.replication_factor, dict(defaults.configs))
        for topic, mode in sorted(topics.items())
        if mode in ("new", "batch")
    ]
    return [*specs, checkpoint_topic_spec(project.checkpoint_topic, brokers or 1)]


def topic_findings(
    project: SyncProject, topics: Mapping[str, str], present: Mapping[str, TopicState], brokers: int | None
) -> list[Finding]:
    """Existing topics exist; topics to create have valid names, are free or compatible, fit the cluster."""
    out = []
    existing = sorted(t for t, mode in topics.items() if mode == "existing")
    for topic in existing:
        if topic in present:
            state = present[topic]
            out.append(ok(Check.EXISTING_TOPICS, f"topic {topic!r} exists ({_shape(state)})"))
        else:
            out.append(
                fail(
                    Check.EXISTING_TOPICS,
                    f"topic {topic!r} (mode existing) does not exist in Kafka",
                    "create it, or map it as a new topic (mode new) with schema synchronization selected",
                )
            )
    specs = created_specs(project, topics, brokers)
    first = f"{first_step(project)}, the first step,"
    for spec in specs:
        if spec.name == project.checkpoint_topic and spec.name in present:
            out += _existing_checkpoint_findings(spec, present[spec.name])
            continue
        creator = first if spec.name == project.checkpoint_topic else "schema synchronization"
        out += _created_findings(spec, present, {s.name for s in specs} - {spec.name}, brokers, creator)
    return out


def _existing_checkpoint_findings(spec: TopicSpec, state: TopicState) -> list[Finding]:
    """The checkpoint topic exists: one partition, or a failure; other configs or fewer replicas, a warning."""
    if state.partitions != 1:
        return [fail(Check.NEW_TOPICS, f"checkpoint topic {spec.name!r} has {state.partitions} partitions",
                     "it must have 1: set checkpoint_topic to another name, or delete the topic if the project "
                     "starts over")]  # fmt: skip
    out = []
    configs = [f"{k}={state.configs.get(k)!r} (the first step sets {v!r})" for k, v in sorted(spec.configs.items())
               if state.configs.get(k) != v]  # fmt: skip
    if configs:
        out.append(warn(Check.NEW_TOPICS, f"checkpoint topic {spec.name!r} has " + "; ".join(configs),
                        "nothing to do: the first step of the DAG sets them"))  # fmt: skip
    if state.replication_factor < spec.replication_factor:
        out.append(warn(Check.NEW_TOPICS, f"checkpoint topic {spec.name!r} has replication factor "
                        f"{state.replication_factor}, {spec.replication_factor} on this cluster's brokers",
                        "raise it with kafka-reassign-partitions: a lost checkpoint loses every position"))  # fmt: skip
    return out or [ok(Check.NEW_TOPICS, f"checkpoint topic {spec.name!r} exists already and matches "
                                         f"({_shape(state)})")]  # fmt: skip


def first_step(project: SyncProject) -> str:
    """The step of the project's DAG that runs first and creates the checkpoint topic, in the log's words."""
    if SyncType.SCHEMA in project.sync_types:
        return "schema synchronization"
    if SyncType.FULL in project.sync_types:
        return "full synchronization (full_sync_plan)"
    return "incremental synchronization"


def _created_findings(
    spec: TopicSpec, present: Mapping[str, TopicState], others: set[str], brokers: int | None, creator: str
) -> list[Finding]:
    """One topic the project creates: exists compatibly, or can be created (by `creator`)."""
    if spec.name in present:
        return _existing_created_findings(spec, present[spec.name])
    return _creatable_findings(spec, present, others, brokers, creator)


def _existing_created_findings(spec: TopicSpec, state: TopicState) -> list[Finding]:
    """A topic the project creates that exists already: it must match what the project would create."""
    diffs = _differences(spec, state)
    if diffs:
        return [
            fail(
                Check.NEW_TOPICS,
                f"topic {spec.name!r} exists already with " + "; ".join(diffs),
                "change the project's topic_defaults to match, delete the topic, or map it as an "
                "existing "
                "topic (mode existing)",
            )
        ]
    return [
        ok(
            Check.NEW_TOPICS,
            f"topic {spec.name!r} exists already and matches ({_shape(state)})",
        )
    ]


def _creatable_findings(
    spec: TopicSpec, present: Mapping[str, TopicState], others: set[str], brokers: int | None, creator: str
) -> list[Finding]:
    """A topic the project creates that does not exist yet: a valid, free name that fits the cluster."""
    try:
        check_kafka_topic_name(spec.name)
    except ValueError:
        return [
            fail(
                Check.NEW_TOPICS,
                f"Kafka refuses the topic name {spec.name!r}",
                f"rename it: {KAFKA_TOPIC_RULE}",
            )
        ]
    clash = sorted(
        t for t in {*present, *others} if t != spec.name and _collision_key(t) == _collision_key(spec.name)
    )
    if clash:
        return [
            fail(
                Check.NEW_TOPICS,
                f"topic {spec.name!r} collides with {listed(clash)}: Kafka refuses topic "
                "names that differ only in '.' and '_'",
                "choose a name that differs in another character",
            )
        ]
    if brokers is not None and spec.replication_factor > brokers:
        return [
            fail(
                Check.NEW_TOPICS,
                f"topic {spec.name!r} needs replication factor {spec.replication_factor}, "
                f"the cluster has {brokers} broker(s)",
                "lower topic_defaults.replication_factor, or add brokers",
            )
        ]
    shape = f"{spec.partitions} partition(s), replication factor {spec.replication_factor}"
    return [ok(Check.NEW_TOPICS, f"topic {spec.name!r} is free; {creator} creates it ({shape})")]


def _collision_key(name: str) -> str:
    return name.replace(".", "_")


def _shape(state: TopicState) -> str:
    return f"{state.partitions} partition(s), replication factor {state.replication_factor}"


def _differences(spec: TopicSpec, state: TopicState) -> list[str]:
    """How an existing topic differs from what the project would create."""
    out = []
    if state.partitions != spec.partitions:
        out.append(f"{state.partitions} partition(s), the project asks for {spec.partitions}")
    if state.replication_factor != spec.replication_factor:
        out.append(
            f"replication factor {state.replication_factor}, the project asks for {spec.replication_factor}"
        )
    out += [
        f"{key}={state.configs.get(key)!r}, the project asks for {value!r}"
        for key, value in sorted(spec.configs.items())
        if state.configs.get(key) != value
    ]
    return out
