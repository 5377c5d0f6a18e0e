"""The engine: the data path by stage, with no Airflow imports (docs/architecture.md)."""
