"""
The DAG file Airflow parses for synchronization projects: one DAG per project file.

Project files (`*.yaml`, `*.yml`, `*.json`, see docs/project-file.md) are read from the folder named by the
environment variable `OBKAFKA_PROJECTS_DIR`, by default `projects/` beside this file. A file that does not
validate gets a placeholder DAG that shows its validation report (docs/dags.md); the other projects load.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow_provider_obkafka.dag_factory import load_project_dags

PROJECTS_DIR = Path(os.environ.get("OBKAFKA_PROJECTS_DIR") or Path(__file__).resolve().parent / "projects")

globals().update(load_project_dags(PROJECTS_DIR))
