"""
`load_project_dags(folder)`: one DAG per project file of a folder, where a broken file cannot hide the others.

Airflow records an import error per DAG *file*: if the one DAG file that loads every project raised for one
bad project file, all projects would disappear from the UI. So a project file that does not validate (or two
files that claim the same project name) gets a placeholder DAG instead: the same DAG id as the valid project
would have (from its `name`, when that can be read; else from the file name), a display name and description
that say the file is invalid, the full validation report on the DAG page (doc_md), the tag `obkafka:invalid`,
and one task, `project_file_error`, that fails with the report when triggered. The report is logged as an
error too, so it is in the DAG processor's log. Every other project loads as usual.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml
from airflow.sdk import DAG, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.dag_factory.build import START_DATE, build_dag
from airflow_provider_obkafka.dag_factory.docs import invalid_doc_md
from airflow_provider_obkafka.dag_factory.naming import dag_id_for, invalid_dag_id
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.loader import load_project

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Context

__all__ = ["INVALID_TAG", "PROJECT_SUFFIXES", "ProjectFileError", "invalid_project_dag", "load_project_dags"]

log = logging.getLogger(__name__)
PROJECT_SUFFIXES = (".yaml", ".yml", ".json")
INVALID_TAG = "obkafka:invalid"


class ProjectFileError(NamedTuple):
    """
    A project file that yields no project DAG.

    :param path: the file
    :param dag_id: the id of its placeholder DAG
    :param name: the project name the file gives, when it can be read
    :param report: every error found, as text
    """

    path: Path
    dag_id: str
    name: str | None
    report: str


class _ProjectFileErrorOperator(BaseOperator):
    """Fails at once with the validation report of an invalid project file (a retry cannot fix it)."""

    ui_color = "#f5b7b1"

    def __init__(self, *, report: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report

    def execute(self, context: Context) -> None:
        """Fail with the report."""
        raise AirflowFailException(self.report)


def load_project_dags(folder: str | Path, *, now: datetime | None = None) -> dict[str, DAG]:
    """
    The DAGs of every project file (`*.yaml`, `*.yml`, `*.json`) directly in `folder`, by DAG id.

    :param folder: the folder of project files; a missing folder gives no DAG (and a warning)
    :param now: the time "now" for the start timestamp check; default: the current time
    """
    root = Path(folder)
    if not root.is_dir():
        log.warning("project folder %s does not exist: no synchronization project DAG is loaded", root)
        return {}
    files = sorted(
        p for p in root.iterdir() if p.suffix.lower() in PROJECT_SUFFIXES and not p.name.startswith(".")
    )
    dags: dict[str, DAG] = {}
    owners: dict[str, Path] = {}
    for path in files:
        dag, error = _load_one(path, now)
        key = dag.dag_id
        if key in owners:
            error = _duplicate(path, owners[key], dag_id=key)
        else:
            owners[key] = path
        if error is not None:
            log.error("%s", error.report)
            dag = invalid_project_dag(error)
        dags[key] = dag
    return dags


def _load_one(path: Path, now: datetime | None) -> tuple[DAG, ProjectFileError | None]:
    """The project DAG of a file, or a placeholder and its error."""
    try:
        project = load_project(path, now=now)
        return build_dag(project, source_path=str(path)), None
    except ConfigError as exc:
        report = str(exc)
    except Exception as exc:  # a bug must not hide the other projects either; the report names it
        log.exception("building the DAG of project file %s failed", path)
        report = f"project file {path}: building its DAG failed: {type(exc).__name__}: {exc}"
    name = _declared_name(path)
    dag_id = dag_id_for(name) if name else invalid_dag_id(path.stem)
    error = ProjectFileError(path, dag_id, name, report)
    return invalid_project_dag(error), error


def _declared_name(path: Path) -> str | None:
    """The project name a file gives, when it is a valid name; None otherwise."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
        return name if isinstance(name, str) and dag_id_for(name) else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError):
        return None


def _duplicate(path: Path, first: Path, *, dag_id: str) -> ProjectFileError:
    report = (
        f"project files {first} and {path} both give DAG id {dag_id!r} (the same project name, or names with "
        "the same ASCII form): a project name identifies its DAG, checkpoint topic and transactions, so "
        "give each project its own name"
    )
    return ProjectFileError(path, dag_id, None, report)


def invalid_project_dag(error: ProjectFileError) -> DAG:
    """The placeholder DAG of an invalid project file: the report on its page; its one task fails with it."""
    label = error.name or error.path.name
    first_line = error.report.splitlines()[0] if error.report else "invalid"
    dag = DAG(
        dag_id=error.dag_id,
        dag_display_name=f"⚠ {label} (invalid project file)",
        description=f"INVALID: {first_line}"[:1000],
        doc_md=invalid_doc_md(str(error.path), error.report),
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=True,
        tags=["obkafka", INVALID_TAG],
    )
    with dag:
        _ProjectFileErrorOperator(task_id="project_file_error", report=error.report, retries=0)
    return dag
