"""The real-Airflow harness (devservices.airflow) for tests driving DAGs through the public REST API."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import devservices
from airflow_provider_obkafka.dag_factory.naming import dag_id_for
from devservices import ServiceError
from tests.scheduler.airflow_api import AirflowApi

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from devservices import ServiceInfo


@pytest.fixture(scope="session")
def airflow_harness(kafka_service, seekdb_service, mariadb_service) -> Iterator[ServiceInfo]:
    """Airflow's scheduler (LocalExecutor), dag-processor, triggerer and API server on PostgreSQL."""
    harness = devservices.service("airflow")
    try:
        info = harness.ensure_running()
    except ServiceError as exc:
        pytest.fail(f"the real-Airflow harness did not start:\n{exc}", pytrace=False)
    yield info
    if info.started_by_us:
        devservices.stop(["airflow"])


@pytest.fixture(scope="session")
def airflow_api(airflow_harness: ServiceInfo) -> Iterator[AirflowApi]:
    """The harness' public REST API, with a token of the simple auth manager."""
    api = AirflowApi(f"http://{airflow_harness.host}:{airflow_harness.port}")
    yield api
    api.close()


@pytest.fixture
def deploy_project(airflow_api: AirflowApi, airflow_harness: ServiceInfo) -> Iterator[Callable[..., str]]:
    """
    Write a project file into the harness' projects folder and wait for its DAG; returns the DAG id.
    Afterwards the project's runs are ended, its file removed and its DAG deleted.
    """
    projects: Path = devservices.service("airflow").projects_dir
    written: list[tuple[Path, str]] = []

    def deploy(project: dict[str, Any]) -> str:
        path = projects / f"{project['name']}.yaml"
        path.write_text(yaml.safe_dump(project, sort_keys=False))
        dag_id = dag_id_for(project["name"])
        written.append((path, dag_id))
        airflow_api.wait_for_dag(dag_id)
        return dag_id

    yield deploy
    for path, dag_id in written:
        with contextlib.suppress(AssertionError):
            airflow_api.pause(dag_id)
            for run in airflow_api.runs(dag_id):
                if run["state"] not in ("success", "failed"):
                    airflow_api.set_run_state(dag_id, run["dag_run_id"], "failed")
        path.unlink(missing_ok=True)
        with contextlib.suppress(AssertionError):
            airflow_api.delete_dag(dag_id)
