"""PrecheckSensor: every check a synchronization project needs, all findings at once (OMS "Precheck")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.engine.precheck.objects import issue_findings, name_findings
from airflow_provider_obkafka.engine.precheck.report import Report
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.project_issues import ProjectValidationError
from airflow_provider_obkafka.operators._project import project_arg
from airflow_provider_obkafka.sensors.precheck_checks import destination_checks, reach_only, source_checks

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject

XCOM_KEY = "precheck"


class PrecheckSensor(BaseSensorOperator):
    """
    Runs every check a synchronization project needs and reports all findings at once, each with what was
    found and how to fix it: the source node (OceanBase or MySQL-compatible, SELECT privileges), the Binlog
    Service when incremental synchronization is selected (answers, ROW format, full row images, REPLICATION
    SLAVE/CLIENT, the start timestamp within reach), the tables (physical tables, shard and selected columns,
    tables without primary key), the destination node (reachable, a Kafka version with transactions) and the
    topics (existing ones exist, new ones are valid names and free or compatible) and the project's names.

    Conditions a retry can fix (a service not up yet) are poked again; conditions it cannot fail the task at
    once with the whole report. The report goes to the task log as a table, and to XCom (key `precheck` on
    every poke; also the return value when it passes) as `{project, passed, findings: [{check, status,
    found, fix}]}`.

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param kafka_timeout: seconds to wait for Kafka to answer the probe
    """

    template_fields: Sequence[str] = ()
    ui_color = "#d5f5e3"

    def __init__(
        self,
        *,
        project: SyncProject | Mapping[str, Any],
        kafka_timeout: float = 10.0,
        mode: str = "reschedule",
        poke_interval: float = 30.0,
        timeout: float = 15 * 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(mode=mode, poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.project = project_arg(project)
        self.kafka_timeout = kafka_timeout

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """Run every check: done when nothing fails, False to poke again, else fail at once."""
        report = run_precheck(self.project, kafka_timeout=self.kafka_timeout)
        table = report.as_table()
        data = report.to_dict()
        context["ti"].xcom_push(key=XCOM_KEY, value=data)
        if report.passed:
            self.log.info("%s", table)
            return PokeReturnValue(is_done=True, xcom_value=data)
        if report.retryable:
            self.log.warning(
                "%s\nevery failure can clear on its own: checking again in %g s", table, self.poke_interval
            )
            return False
        self.log.error("%s", table)
        raise AirflowFailException(table)


def run_precheck(data: Mapping[str, Any], *, kafka_timeout: float = 10.0) -> Report:
    """Every precheck of a project given as data; an invalid one is reported with what can be reached."""
    try:
        project = parse_project(data, source=f"project {data.get('name')!r}")
    except ProjectValidationError as exc:
        findings = issue_findings(exc.errors)
        findings += reach_only(data, kafka_timeout)
        return Report.of(str(data.get("name")), findings)
    findings = name_findings(project)
    plan, source = source_checks(project)
    findings += source
    findings += destination_checks(project, plan, kafka_timeout)
    return Report.of(project.name, findings)
