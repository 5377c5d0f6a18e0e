"""
The DAG factory: synchronization projects (OMS projects) as Airflow DAGs.

`build_dag(project)` turns one project into a DAG (`build`, with its tasks' callbacks in `callbacks`);
`load_project_dags(folder)` loads every project file of a folder, with a placeholder DAG showing the report
for a file that does not validate (`folder`);
`dag_id_for(name)` and `topic_asset(conn_id, topic)` give the names downstream DAGs use (`naming`).
docs/dags.md maps the DAGs to OMS's procedure.
"""

from __future__ import annotations

from airflow_provider_obkafka.dag_factory.build import build_dag
from airflow_provider_obkafka.dag_factory.folder import ProjectFileError, load_project_dags
from airflow_provider_obkafka.dag_factory.naming import dag_id_for, topic_asset

__all__ = ["ProjectFileError", "build_dag", "dag_id_for", "load_project_dags", "topic_asset"]
