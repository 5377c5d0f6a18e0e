"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_obkafka import __version__


def _field(label: str, kind: str, description: str, **schema: Any) -> dict[str, Any]:
    """One labelled field of the connection form; its value is stored under the field's key in `extra`."""
    return {"label": label, "description": description, "schema": {"type": [kind, "null"], **schema}}


OCEANBASE_FIELDS = {
    "binlog_host": _field(
        "Binlog Service host",
        "string",
        "Host of the OceanBase Binlog Service (ODP or obbinlog). Empty: this connection's host.",
    ),
    "binlog_port": _field(
        "Binlog Service port", "integer", "Port of the Binlog Service (ODP: 2883). Empty: this connection's port."
    ),
    "charset": _field("Charset", "string", "Client character set of the session.", default="utf8mb4"),
    "ssl": _field("SSL", "boolean", "Connect with TLS.", default=False),
    "ssl_ca": _field("SSL CA file", "string", "Path of the CA certificate that signs the server certificate."),
    "ssl_cert": _field("SSL client certificate", "string", "Path of the client certificate (mutual TLS)."),
    "ssl_key": _field("SSL client key", "string", "Path of the client key (mutual TLS)."),
    "ssl_verify_cert": _field(
        "Verify server certificate", "boolean", "Check the server certificate and host name.", default=True
    ),
    "connect_timeout": _field("Connect timeout (s)", "integer", "Seconds to wait for the connection.", default=10),
    "read_timeout": _field("Read timeout (s)", "integer", "Seconds to wait for one read. Empty: no limit."),
}


def get_provider_info() -> dict[str, Any]:
    """The provider's name, version, hooks and the `oceanbase` connection type with its form fields."""
    return {
        "package-name": "airflow-provider-obkafka",
        "name": "OceanBase to Kafka (obkafka)",
        "description": "Synchronizes OceanBase (MySQL mode) tables into Apache Kafka: precheck, schema, "
        "full and incremental synchronization, exactly once.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "OceanBase", "external-doc-url": "https://www.oceanbase.com/", "tags": ["software"]}
        ],
        "hooks": [
            {
                "integration-name": "OceanBase",
                "python-modules": [
                    "airflow_provider_obkafka.hooks.oceanbase",
                    "airflow_provider_obkafka.hooks.kafka",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "OceanBase",
                "python-modules": [
                    "airflow_provider_obkafka.operators.schema_sync",
                    "airflow_provider_obkafka.operators.full_sync_plan",
                    "airflow_provider_obkafka.operators.full_sync",
                    "airflow_provider_obkafka.operators.incremental_sync",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "OceanBase", "python-modules": ["airflow_provider_obkafka.sensors.precheck"]}
        ],
        "triggers": [
            {
                "integration-name": "OceanBase",
                "python-modules": ["airflow_provider_obkafka.triggers.incremental_sync"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_obkafka.hooks.oceanbase.OceanBaseHook",
                "hook-name": "OceanBase",
                "connection-type": "oceanbase",
                "conn-fields": OCEANBASE_FIELDS,
                "ui-field-behaviour": {
                    "relabeling": {"schema": "Database (optional)", "login": "User"},
                    "placeholders": {
                        "host": "ODP or OBServer host",
                        "port": "2883 (ODP) or 2881 (OBServer)",
                        "login": "user, user@tenant or user@tenant#cluster",
                        "schema": "default database",
                    },
                },
            }
        ],
    }
