"""The precheck's Kafka access checks: transactions and ACLs, proved over the connection's full config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import NewTopic

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.precheck.kafka import transaction_findings
from airflow_provider_obkafka.engine.precheck.kafka_acls import GROUP_PREFIX, TopicAccess, acl_findings

if TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import Future

    from airflow_provider_obkafka.engine.precheck.report import Finding
    from airflow_provider_obkafka.hooks.kafka import KafkaHook
    from airflow_provider_obkafka.models.project import SyncProject

__all__ = ["acl_checks", "transaction_checks"]


def transaction_checks(project: SyncProject, kafka: KafkaHook, timeout: float) -> list[Finding]:
    """A throwaway transactional producer of the project's prefix initializes, begins and aborts."""
    throwaway = checkpoints.transactional_id(project.slug, "precheck")
    prefix = checkpoints.transactional_id_prefix(project.slug)
    try:
        kafka.check_transactions(throwaway, max(timeout, 30.0))
    except KafkaException as exc:
        error = exc.args[0]
        return transaction_findings(throwaway, prefix, error.name(), error.str())
    return transaction_findings(throwaway, prefix)


def acl_checks(
    project: SyncProject, kafka: KafkaHook, topics: Iterable[str], timeout: float
) -> list[Finding]:
    """What the connection's user may do on each topic of the project and on the checkpoint reader's group."""
    user = kafka.client_config().get("sasl.username")
    label = f"user {user!r}" if user else "the connection's user"
    access = topic_access(kafka, acl_topic_names(project, topics), timeout)
    refused = group_error(kafka, max(timeout, 30.0))
    dead_letter = project.dead_letter_topic if project.uses_dead_letter() else None
    return acl_findings(access, project.checkpoint_topic, label, refused, dead_letter)


def acl_topic_names(project: SyncProject, topics: Iterable[str]) -> list[str]:
    """The topics whose ACLs the precheck checks: the data topics, the checkpoint topic, the dead-letter topic."""
    dead_letter = [project.dead_letter_topic] if project.uses_dead_letter() else []
    return sorted({*topics, project.checkpoint_topic, *dead_letter})


def topic_access(kafka: KafkaHook, names: list[str], timeout: float) -> dict[str, TopicAccess]:
    """Per topic: the operations the user may do (a topic it can describe), else whether it may create it."""
    admin = kafka.admin_client()
    futures = admin.describe_topics(
        TopicCollection(names), include_authorized_operations=True, request_timeout=timeout
    )
    out: dict[str, TopicAccess] = {}
    hidden = []
    for name, future in futures.items():
        try:
            ops = future.result(timeout).authorized_operations
        except KafkaException:
            hidden.append(name)  # unknown, or not describable: a validate-only creation tells which
            continue
        out[name] = TopicAccess(operations=None if ops is None else frozenset(op.name for op in ops))
    if hidden:
        created = admin.create_topics(
            [NewTopic(name, 1, 1) for name in hidden], validate_only=True, request_timeout=timeout
        )
        for name, future in created.items():
            out[name] = TopicAccess(create=_creation(future, timeout))
    return out


def _creation(future: Future[None], timeout: float) -> str:
    try:
        future.result(timeout)
    except KafkaException as exc:
        code = exc.args[0].code()
        if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            return "denied"
        if code == KafkaError.TOPIC_ALREADY_EXISTS:
            return "exists"
    return "ok"  # other refusals (name, replication factor) are the topic checks' findings


def group_error(kafka: KafkaHook, timeout: float) -> tuple[bool, str] | None:
    """
    Whether a consumer group of the checkpoint reader's prefix is refused (DescribeGroups): None when it is
    allowed, else (refused, why); (False, why) when the broker did not answer in time (its group coordinator
    may still be starting), which proves nothing either way.
    """
    group = f"{GROUP_PREFIX}precheck"
    admin = kafka.admin_client()  # kept: a client destroyed before the answer leaves its future unresolved
    future = admin.describe_consumer_groups([group], request_timeout=timeout)[group]
    try:
        future.result(timeout + 5)
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
            return True, exc.args[0].str()
    except TimeoutError:
        return False, f"DescribeGroups on {group!r} had no answer in {timeout:.0f} s"
    return None
