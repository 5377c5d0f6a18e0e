"""VerifyOperator: prove the project's topics equal their tables (`engine/verify`), as a DAG task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.exceptions import CheckpointError
from airflow_provider_obkafka.operators._project import fail_fast, load_project, project_arg
from airflow_provider_obkafka.operators._verify_io import VerifySettings, verify_project

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_obkafka.models.project import SyncProject


class VerifyOperator(BaseOperator):
    """
    Verifies that each topic of a project equals its source table: after a full synchronization, chunk by chunk
    at the snapshot (row count and checksum on both sides, then the differing keys); after incremental
    synchronization, the final state per key rebuilt from the topic against the table. Logs the report, returns
    it as XCom, and fails (without retries: a retry finds the same data) when anything differs.

    :param project: the synchronization project (a SyncProject or its JSON form)
    :param mode: `auto` (what the project's sync types allow), `full` or `incremental`
    :param tables: `database.table` names to verify instead of all (templated)
    :param max_keys: rows held in memory at once
    :param rechecks: incremental: comparisons again before a differing key is reported
    :param settle_timeout_s: incremental: wait for the checkpoint to reach the source's position
    """

    template_fields: Sequence[str] = ("tables",)
    ui_color = "#f9e79f"

    def __init__(
        self, *, project: SyncProject | Mapping[str, Any], mode: str = "auto", tables: Sequence[str] | None = None,
        max_keys: int = 1_000_000, rechecks: int = 2, settle_timeout_s: float = 120.0, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.project = project_arg(project)
        self.tables = tables
        self.settings: dict[str, Any] = {
            "mode": mode, "max_keys": max_keys, "rechecks": rechecks, "settle_timeout_s": settle_timeout_s
        }
        VerifySettings(**self.settings)  # a bad argument fails when the DAG is parsed

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Run the comparisons; fail when a report finds a difference."""
        project = load_project(self.project)
        settings = VerifySettings(**self.settings, tables=tuple(self.tables or ()))
        with fail_fast():
            try:
                reports = verify_project(project, settings)
            except CheckpointError as exc:
                raise AirflowFailException(str(exc)) from exc
        for report in reports:
            for line in report.lines():
                self.log.info("%s", line)
        failed = [report.mode for report in reports if not report.ok]
        if failed:
            raise AirflowFailException(f"verify found differences ({', '.join(failed)}): see the report above")
        return [report.to_dict() for report in reports]
