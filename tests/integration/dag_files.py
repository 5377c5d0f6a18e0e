"""Write a small DAG file for a project and load it: Airflow 3's `dag.test()` runs DAGs found in the DAGs folder."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path
from typing import Any

from airflow_provider_obkafka.operators._project import project_arg

TEMPLATE = '''
import json

import pendulum
from airflow.sdk import DAG

from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

PROJECT = json.loads({project!r})

with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False) as dag:
    schema_sync = SchemaSyncOperator(task_id="schema_sync", project=PROJECT)
    plan = FullSyncPlanOperator(task_id="full_sync_plan", project=PROJECT, chunk_size={chunk_size})
    chunks = FullSyncOperator.partial(task_id="full_sync", project=PROJECT, progress_every=1.0).expand(
        work=plan.output
    )
    schema_sync >> plan
'''


def write_full_sync_dag(dags_folder: Path, dag_id: str, project: Any, chunk_size: int) -> Any:
    """Write `<dag_id>.py` (schema sync → plan → mapped chunks) and return the DAG object it defines."""
    text = TEMPLATE.format(project=json.dumps(project_arg(project)), dag_id=dag_id, chunk_size=chunk_size)
    return _write_and_load(dags_folder, dag_id, text)


INCREMENTAL_TEMPLATE = '''
import json

import pendulum
from airflow.sdk import DAG

from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator

PROJECT = json.loads({project!r})

with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False) as dag:
    schema_sync = SchemaSyncOperator(task_id="schema_sync", project=PROJECT)
    incremental = IncrementalSyncOperator(
        task_id="incremental_sync", project=PROJECT, batch_size=100, max_wait_s=1.0, poll_interval_s=0.2,
        defer_hold_s=0,  # dag.test() runs the trigger inline: no scheduler to race (the option's docs)
    )
    schema_sync >> incremental
'''


def write_incremental_dag(dags_folder: Path, dag_id: str, project: Any) -> Any:
    """Write `<dag_id>.py` (schema sync → incremental sync) and return the DAG object it defines."""
    text = INCREMENTAL_TEMPLATE.format(project=json.dumps(project_arg(project)), dag_id=dag_id)
    return _write_and_load(dags_folder, dag_id, text)


def _write_and_load(dags_folder: Path, dag_id: str, text: str) -> Any:
    """Write the DAG file into the DAGs folder (where dag.test() finds it) and import the DAG it defines."""
    path = dags_folder / f"{dag_id}.py"
    path.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(f"obkafka_test_dag_{dag_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag
