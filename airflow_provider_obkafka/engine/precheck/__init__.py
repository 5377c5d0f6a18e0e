"""Precheck rules over facts the hooks fetched: the report, the source, Kafka, the objects and names."""
