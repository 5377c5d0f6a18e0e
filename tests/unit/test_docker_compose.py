"""Static checks of docker/: Docker does not run here, so the compose file is parsed and cross-checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from airflow_provider_obkafka.models.extras import ObConnExtras, ObLogin

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env(compose: dict, service: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"][service]["environment"].items()}


def test_services_and_dependencies(compose):
    services = compose["services"]
    assert set(services) == {"oceanbase", "kafka", "airflow"}
    for name, condition in services["airflow"]["depends_on"].items():
        assert name in services
        assert condition == {"condition": "service_healthy"}
        assert "test" in services[name]["healthcheck"], f"{name} needs a healthcheck for service_healthy"


def test_host_ports_do_not_collide(compose):
    published = [p.split(":")[0] for s in compose["services"].values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), published


def test_airflow_image_builds_from_repo_files(compose):
    build = compose["services"]["airflow"]["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == ROOT
    dockerfile = context / build["dockerfile"]
    sources = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY"):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources += parts[:-1]
    assert sources, "the Dockerfile copies the provider into the image"
    for src in sources:
        assert (context / src).exists(), f"COPY source {src} is missing from the repository"
    assert re.search(r"^FROM apache/airflow:3\.", dockerfile.read_text(), re.M), "Airflow 3.x base image"


def test_oceanbase_connection_goes_through_odp_with_binlog(compose):
    conn = json.loads(_env(compose, "airflow")["AIRFLOW_CONN_OCEANBASE_DEFAULT"])
    assert conn["conn_type"] == "oceanbase"
    assert conn["host"] == "oceanbase" and conn["port"] == 2883
    login = ObLogin.parse(conn["login"])
    assert (login.tenant, login.cluster) == (_env(compose, "oceanbase")["TENANT_NAME"], _env(compose, "oceanbase")["CLUSTER_NAME"])
    extras = ObConnExtras.from_extra(conn["extra"], "oceanbase_default")
    assert (extras.binlog_host, extras.binlog_port) == ("oceanbase", 2883)
    assert conn["password"] == _env(compose, "oceanbase")["PASSWORD"]


def test_kafka_connection_matches_an_advertised_listener(compose):
    conn = json.loads(_env(compose, "airflow")["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert conn["conn_type"] == "kafka"
    kafka = _env(compose, "kafka")
    advertised = {item.split("://")[1] for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert conn["extra"]["bootstrap.servers"] in advertised
    names = {item.split("://")[0] for item in kafka["KAFKA_LISTENERS"].split(",")}
    protocol_map = dict(item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert names == set(protocol_map)
    assert kafka["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1", "transactions on a single broker"
