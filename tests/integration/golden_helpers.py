"""
What the golden-message integration tests of the serialization methods share: the real full-sync path, the
binlog transactions of a workload, and the comparison with a golden file.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.binlog.transactions import Transaction
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.test_full_sync_golden import REGENERATE, _dump, _parse

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_obkafka.models.position import BinlogPosition


def run_full_sync(project: Any, run_id: str) -> None:
    """Schema sync, plan and every chunk of `project`: the real full-sync path."""
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="golden"), "run_id": run_id}
    for work in FullSyncPlanOperator(task_id="plan", project=project, chunk_size=1000).execute(context):
        FullSyncOperator(task_id="full_sync", project=project, work=work).execute({})


def binlog_transactions(
    service: Any, server_id: int, start: BinlogPosition, table: tuple[str, str]
) -> list[Transaction]:
    """The transactions on `table` (database, name) in MariaDB's binlog from `start` to its current end."""
    settings = dict(host=service.host, port=service.port, user="root", password="", charset="utf8mb4")
    with BinlogReader(settings, server_id, start, {table}) as reader:
        return [item for item in reader.read_transactions() if isinstance(item, Transaction)]


def check_golden(golden_file: Path, got: list[dict[str, Any]], label: str) -> None:
    """`got` is the golden file's list of messages, one by one (OBKAFKA_REGENERATE_GOLDEN=1 rewrites it)."""
    if REGENERATE:
        golden_file.parent.mkdir(exist_ok=True)
        golden_file.write_bytes(_dump(got))
    expected = _parse(golden_file.read_bytes())
    assert len(got) == len(expected)
    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"{label}: message {position} differs from {golden_file.name}"
