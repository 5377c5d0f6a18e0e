"""
The checks `sensors/precheck.py` runs, each against a service reached through the hooks: the source node
(server, tables, SELECT privileges, the Binlog Service and the start timestamp: `source_checks`), the
destination node (Kafka, its version, transactions, the topics, row sizes and ACLs: `destination_checks`), and
for a project that does not validate only whether its services answer (`reach_only`). A check that cannot run
is a finding too, retryable when its service is unreachable.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.precheck.kafka import transaction_timeout_findings, version_findings
from airflow_provider_obkafka.engine.precheck.objects import object_findings
from airflow_provider_obkafka.engine.precheck.report import Check, Finding, fail, ok
from airflow_provider_obkafka.engine.precheck.row_size import PRODUCER_DEFAULT_MAX, RowLimits, row_size_findings
from airflow_provider_obkafka.engine.precheck.source import (
    binlog_findings,
    gtid_findings,
    select_findings,
    snapshot_findings,
    source_findings,
    start_findings,
)
from airflow_provider_obkafka.engine.precheck.topics import TopicState, created_specs, topic_findings
from airflow_provider_obkafka.engine.routing.plan import SyncPlan, resolve
from airflow_provider_obkafka.hooks import kafka_checks, ob_checks
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.naming import SyncType, is_pattern
from airflow_provider_obkafka.operators._project import gone_tables_of

if TYPE_CHECKING:
    from airflow_provider_obkafka.hooks.kafka_info import ClusterInfo
    from airflow_provider_obkafka.models.project import SyncProject

log = logging.getLogger(__name__)

_RETRY_FIX = "start the service or open the network path; the precheck tries again (poke_interval)"


def reach_only(data: Mapping[str, Any], kafka_timeout: float) -> list[Finding]:
    """For an invalid project: whether its source and destination connections answer at all."""
    out: list[Finding] = []
    source, destination = data.get("source"), data.get("destination")
    source_id = source.get("conn_id") if isinstance(source, Mapping) else None
    kafka_id = destination.get("conn_id") if isinstance(destination, Mapping) else None
    hook = OceanBaseHook(ob_conn_id=source_id if isinstance(source_id, str) else "oceanbase_default")
    try:
        facts = ob_checks.read_source(hook)
        out += source_findings(facts, full_sync=False)
    except Exception as exc:
        out.append(_error(Check.SOURCE, f"source {hook.get_conn_id()!r}", exc))
    kafka = KafkaHook(kafka_config_id=kafka_id if isinstance(kafka_id, str) else "kafka_default")
    try:
        info = kafka.probe(kafka_timeout)
        out.append(ok(Check.DESTINATION, f"Kafka answers: {len(info.brokers)} broker(s)"))
    except Exception as exc:
        out.append(_error(Check.DESTINATION, f"Kafka {kafka.kafka_config_id!r}", exc))
    return out


def _error(check: Check, what: str, exc: BaseException, fix: str = "") -> Finding:
    """A check that could not run: retryable when the service is unreachable, else a plain failure."""
    detail = ob_checks.describe_error(exc)
    if isinstance(exc, TimeoutError) and not str(exc):
        detail = "no answer before the timeout"
    if ob_checks.is_retryable(exc):
        return fail(check, f"{what} is not reachable: {detail}", _RETRY_FIX, retryable=True)
    return fail(
        check, f"{what}: {detail}", fix or "correct the connection (host, port, user, password, extras)"
    )


def source_checks(project: SyncProject) -> tuple[SyncPlan | None, list[Finding]]:
    """Server, tables and columns, SELECT privileges, and the Binlog Service when incremental sync is on."""
    hook = OceanBaseHook(ob_conn_id=project.source.conn_id)
    what = f"source {project.source.conn_id!r}"
    try:
        facts = ob_checks.read_source(hook)
    except Exception as exc:
        return None, [_error(Check.SOURCE, what, exc)]
    out = source_findings(facts, full_sync=SyncType.FULL in project.sync_types)
    if SyncType.FULL in project.sync_types:
        out += snapshot_findings(facts)
    try:
        plan = resolve(project, hook.list_tables, hook.describe_table)
        gone = _gone(project) if plan.problems else {}  # Kafka read only when a table is missing
        plan = resolve(project, hook.list_tables, hook.describe_table, gone=gone) if gone else plan
    except Exception as exc:
        return None, [*out, _error(Check.TABLES, what, exc)]
    out += object_findings(plan)
    out += select_findings(facts, *_mapped(project, plan))
    if SyncType.INCREMENTAL in project.sync_types:
        out += _binlog_checks(project, hook, facts.user)
    return plan, out


def _gone(project: SyncProject) -> dict[str, str]:
    """The tables the change log saw dropped or renamed away (WARN, not FAIL); none when Kafka cannot tell."""
    try:
        return gone_tables_of(project, KafkaHook(kafka_config_id=project.destination.conn_id))
    except Exception as exc:  # the destination checks report an unreachable Kafka
        log.info("schema history not read (%s): a missing table is a failure", exc)
        return {}


def _mapped(project: SyncProject, plan: SyncPlan) -> tuple[dict[str, set[str]], set[str]]:
    """The tables to read per database (named or resolved), and the databases where patterns select tables."""
    tables: dict[str, set[str]] = {}
    patterns = set()
    for entry in project.objects:
        tables.setdefault(entry.database, set()).update(entry.explicit_tables)
        if any(is_pattern(name) for name in entry.tables):
            patterns.add(entry.database)
    for table in plan.tables:
        tables.setdefault(table.ref.database, set()).add(table.ref.table)
    return tables, patterns


def _binlog_checks(project: SyncProject, hook: OceanBaseHook, user: str) -> list[Finding]:
    """The change-log endpoint's answer, variables and grants; the start timestamp within its reach."""
    host, port = hook.binlog_endpoint()
    try:
        facts = ob_checks.read_binlog(hook)
    except Exception as exc:
        return [
            _error(
                Check.BINLOG,
                f"the Binlog Service at {host}:{port}",
                exc,
                "set the connection's Binlog Service host/port (binlog_host, binlog_port) to where it "
                "answers",
            )
        ]
    out = binlog_findings(facts, user) + gtid_findings(facts, project.incremental.resume_by)
    start = project.incremental.start_timestamp
    if start is not None and SyncType.FULL not in project.sync_types and facts.position is not None:
        out += _start_checks(project, hook, start)
    return out


def _start_checks(project: SyncProject, hook: OceanBaseHook, start: datetime.datetime) -> list[Finding]:
    """The incremental start timestamp is not older than the oldest event the change log still holds."""
    try:
        from airflow_provider_obkafka.engine.binlog import seek as binlog_seek
    except ImportError:
        return [
            fail(
                Check.START_TIMESTAMP,
                "cannot be checked: engine.binlog.seek is not installed",
                "install a provider version that can start from a past timestamp, or leave "
                "start_timestamp out",
            )
        ]
    settings = hook.binlog_connection_settings()
    # Its own replica id: a second replica registering the project's id would disconnect the running reader.
    server_id = binlog_seek.derived_server_id(project.server_id, "precheck")
    try:
        earliest = binlog_seek.earliest_event_time(settings, server_id)
        position = None
        if earliest is not None and start >= _aware(earliest):
            found = binlog_seek.position_for_timestamp(settings, server_id, start)
            position = f"{found.file}:{found.position}" if found is not None else None
    except Exception as exc:
        return [_error(Check.START_TIMESTAMP, "the change log", exc, "check the Binlog Service")]
    return start_findings(start, earliest, position)


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=datetime.UTC)


def _broker_max_timeouts(kafka: KafkaHook, info: ClusterInfo) -> dict[int, int]:
    """Each broker's `transaction.max.timeout.ms`; empty when DescribeConfigs is refused."""
    key = "transaction.max.timeout.ms"
    try:
        found = kafka.broker_configs((key,), [broker.id for broker in info.brokers])
    except Exception:  # e.g. no DESCRIBE_CONFIGS on the cluster: the finding is a warning that says so
        return {}
    return {broker: int(configs[key]) for broker, configs in found.items() if key in configs}


def _row_size_checks(
    project: SyncProject, plan: SyncPlan | None, kafka: KafkaHook, info: ClusterInfo, present: dict[str, TopicState]
) -> list[Finding]:
    """Each table's largest possible row against the producer's, the brokers' and its topic's size limits."""
    if plan is None:
        return []
    key = "message.max.bytes"
    try:
        found = kafka.broker_configs((key,), [broker.id for broker in info.brokers])
        brokers = {broker: int(configs[key]) for broker, configs in found.items() if key in configs}
    except Exception:  # no DESCRIBE_CONFIGS: the topics' and the producer's limits are still compared
        brokers = {}
    broker = min(brokers.items(), key=lambda item: (item[1], item[0])) if brokers else None
    default = project.topic_defaults.configs.get("max.message.bytes") or (broker[1] if broker else None)
    topics = {}
    for table in plan.tables:
        state = present.get(table.topic)
        limit = state.configs.get("max.message.bytes") if state is not None and state.partitions else default
        if limit is not None:
            topics[table.topic] = int(limit)
    producer = int(kafka.client_config().get("message.max.bytes") or PRODUCER_DEFAULT_MAX)
    columns = [(str(t.ref), t.topic, [t.schema.column(name) for name in t.columns()]) for t in plan.tables]
    return row_size_findings(columns, RowLimits(producer, broker, topics))


def destination_checks(project: SyncProject, plan: SyncPlan | None, timeout: float) -> list[Finding]:
    """Kafka answers, its version supports transactions, and the topics are as the project needs."""
    kafka = KafkaHook(kafka_config_id=project.destination.conn_id)
    try:
        bootstrap = str(kafka.client_config().get("bootstrap.servers"))
        info = kafka.probe(timeout)
    except Exception as exc:
        return [_error(Check.DESTINATION, f"Kafka {project.destination.conn_id!r}", exc)]
    controller = f", controller {info.controller_id}" if info.controller_id >= 0 else ""
    out = [
        ok(
            Check.DESTINATION,
            f"Kafka cluster {info.cluster_id} answers at {bootstrap}: "
            f"{len(info.brokers)} broker(s){controller}",
        )
    ]
    out += version_findings(info.protocol_version, bootstrap, info.version_error)
    out += kafka_checks.transaction_checks(project, kafka, timeout)
    out += transaction_timeout_findings(project.options.transaction_timeout_ms, _broker_max_timeouts(kafka, info))
    topics = {**project.known_topics(), **(plan.topics() if plan is not None else {})}
    specs = created_specs(project, topics, len(info.brokers))
    keys = tuple(sorted({"max.message.bytes", *(key for spec in specs for key in spec.configs)}))
    try:
        names = sorted({*topics, project.checkpoint_topic})
        described = kafka.describe_topics(names, config_keys=keys)
        present = {
            name: TopicState(t.partitions, t.replication_factor, t.configs) for name, t in described.items()
        }
        for name in kafka.list_topics():
            present.setdefault(
                name, TopicState(0, 0, {})
            )  # other topics: only their names matter (collisions)
        out += topic_findings(project, topics, present, len(info.brokers))
        out += _row_size_checks(project, plan, kafka, info, present)
    except Exception as exc:  # e.g. a missing ACL: the ACL checks below name it
        out.append(_error(Check.NEW_TOPICS, f"the topics of Kafka {project.destination.conn_id!r}", exc))
    try:
        return out + kafka_checks.acl_checks(project, kafka, topics, timeout)
    except Exception as exc:
        return [*out, _error(Check.KAFKA_ACLS, f"the ACLs of Kafka {project.destination.conn_id!r}", exc)]
