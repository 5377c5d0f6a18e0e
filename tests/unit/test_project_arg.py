"""Operators keep a project as JSON (DAG serialization stores it); it must parse back to the same project."""

from __future__ import annotations

import pytest

from airflow_provider_obkafka.models.loader import load_project, parse_project
from airflow_provider_obkafka.operators._project import project_arg

MINIMAL = {
    "name": "full_only",
    "sync_types": ["schema", "full"],
    "objects": [{"database": "d", "tables": ["t"], "topic": {"mode": "new", "name": "d.t"}}],
}


@pytest.mark.parametrize("project", [parse_project(MINIMAL), load_project("dags/projects/example_orders.yaml")])
def test_project_arg_round_trips(project):
    assert parse_project(project_arg(project)) == project
