"""
Precheck rules for Kafka ACLs, on what the connection's user may do (fetched by the hooks): each operation the
sync needs and the user lacks is a finding that names it. The minimal set (docs/security.md):

| resource | pattern | operations |
|---|---|---|
| TRANSACTIONAL_ID | PREFIXED `obkafka.<project>` | WRITE, DESCRIBE (checked by the transactions check) |
| TOPIC | each data topic | WRITE, DESCRIBE, DESCRIBE_CONFIGS; CREATE while it does not exist |
| TOPIC | the checkpoint topic | READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS; CREATE while it does not exist |
| GROUP | PREFIXED `obkafka-verify-` | DESCRIBE (the checkpoint reader's group) |
| CLUSTER | `kafka-cluster` | DESCRIBE_CONFIGS (the broker version; a warning without it) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_obkafka.engine.precheck.report import Check, Finding, fail, ok, warn

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["GROUP_PREFIX", "TopicAccess", "acl_findings", "needed_operations"]

GROUP_PREFIX = "obkafka-verify-"
DATA_TOPIC_OPERATIONS = ("WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
CHECKPOINT_TOPIC_OPERATIONS = ("READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
_DOC = "(docs/security.md)"


class TopicAccess(NamedTuple):
    """
    What the user may do on one topic: `operations` when the user can describe it (None: the broker does not
    say, no authorizer), else `create`: the outcome of a validate-only creation (`ok`, `denied`, `exists`).
    """

    operations: frozenset[str] | None = None
    create: str | None = None


def needed_operations(topic: str, checkpoint_topic: str) -> tuple[str, ...]:
    """The operations the sync needs on an existing topic."""
    return CHECKPOINT_TOPIC_OPERATIONS if topic == checkpoint_topic else DATA_TOPIC_OPERATIONS


def acl_findings(
    access: Mapping[str, TopicAccess],
    checkpoint_topic: str,
    user: str,
    group_error: tuple[bool, str] | None = None,
    dead_letter_topic: str | None = None,
) -> list[Finding]:
    """
    One finding per topic (OK, or FAIL naming each missing operation) and one for the checkpoint reader's
    consumer group: `group_error` is None (allowed), or (refused, why), refused False when it was not told.
    `dead_letter_topic` (written as a data topic, `oversize_rows: dead_letter`) is named as such.
    """
    out = [_topic_finding(topic, state, checkpoint_topic, user, topic == dead_letter_topic)
           for topic, state in sorted(access.items())]  # fmt: skip
    fix = f"allow DESCRIBE on GROUP with the PREFIXED pattern {GROUP_PREFIX!r} to {user} {_DOC}"
    if group_error is None:
        found = f"{user} may use consumer groups {GROUP_PREFIX}* (the checkpoint reader)"
        out.append(ok(Check.KAFKA_ACLS, found))
    elif group_error[0]:
        found = f"{user} may not use the consumer group of the checkpoint reader: {group_error[1]}"
        out.append(fail(Check.KAFKA_ACLS, found, fix))
    else:
        found = f"the consumer group of the checkpoint reader could not be checked: {group_error[1]}"
        out.append(warn(Check.KAFKA_ACLS, found, fix))
    return out


def _topic_finding(topic: str, state: TopicAccess, checkpoint_topic: str, user: str, dead_letter: bool) -> Finding:
    role = "checkpoint topic" if topic == checkpoint_topic else "dead-letter topic" if dead_letter else "topic"
    if state.create == "denied":
        return fail(
            Check.KAFKA_ACLS,
            f"{user} may not CREATE {role} {topic!r} (nor DESCRIBE it, if it exists)",
            f"allow CREATE and DESCRIBE on TOPIC {topic!r} to {user}, or create it {_DOC}",
        )
    if state.create == "exists":  # READ and WRITE imply DESCRIBE: the user has neither
        ops = " and ".join(op for op in needed_operations(topic, checkpoint_topic) if op != "DESCRIBE")
        return fail(
            Check.KAFKA_ACLS,
            f"{user} may not DESCRIBE {role} {topic!r}, which exists",
            f"allow {ops} on TOPIC {topic!r} to {user} {_DOC}",
        )
    if state.create == "ok":
        return ok(Check.KAFKA_ACLS, f"{user} may CREATE {role} {topic!r}")
    missing = [op for op in needed_operations(topic, checkpoint_topic) if state.operations is not None
               and op not in state.operations]  # fmt: skip
    if missing:
        ops = " and ".join(missing)
        return fail(
            Check.KAFKA_ACLS,
            f"{user} may not {ops} {role} {topic!r}",
            f"allow {ops} on TOPIC {topic!r} to {user} {_DOC}",
        )
    said = "no authorizer limits it" if state.operations is None else "every operation the sync needs"
    return ok(Check.KAFKA_ACLS, f"{user} may use {role} {topic!r}: {said}")
