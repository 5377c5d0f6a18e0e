"""Apache Airflow provider that synchronizes OceanBase (MySQL mode) into Apache Kafka."""

from __future__ import annotations

__version__ = "0.1.0"
