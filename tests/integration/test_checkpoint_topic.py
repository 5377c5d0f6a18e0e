"""
The checkpoint topic is created by whichever step of a generated DAG comes first, with or without schema
synchronization; every topic of the data goes to an `existing` topic the user made (no schema sync).
"""

from __future__ import annotations

import json

import pendulum
import yaml

from airflow_provider_obkafka.dag_factory import dag_id_for
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.topic import TopicSpec
from tests.integration.test_project_dag import _load_dag_file, _states


def _generated_dag(airflow_db, tmp_path, project: dict):
    projects = tmp_path / "projects"
    projects.mkdir()
    (projects / f"{project['name']}.yaml").write_text(yaml.safe_dump(project))
    return _load_dag_file(airflow_db, f"projects_{project['name']}", projects)[dag_id_for(project["name"])]


def _project(db: str, sync_types: list[str]) -> dict:
    return {
        "name": db,
        "source": {"conn_id": "mariadb_binlog"},
        "sync_types": sync_types,
        **({"incremental": {"schedule": "* * * * *"}} if "incremental" in sync_types else {}),
        "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "existing", "name": f"{db}.orders"}}],
    }


def _checkpoint_topic_made(kafka: KafkaHook, name: str) -> None:
    topic = parse_project(_project(name, ["incremental"])).checkpoint_topic
    keys = tuple(checkpoints.CHECKPOINT_TOPIC_CONFIGS)
    found = kafka.describe_topics([topic], config_keys=keys)
    assert topic in found, "the first step created the checkpoint topic"
    assert found[topic].configs == checkpoints.CHECKPOINT_TOPIC_CONFIGS


def test_full_only_project_creates_its_checkpoint_topic_in_the_plan(
    airflow_db, airflow_conn_env, mariadb_database, tmp_path
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    cur.execute(f"INSERT INTO {db}.orders VALUES (1, 'NEW'), (2, 'NEW'), (3, 'PAID')")
    kafka = KafkaHook()
    kafka.create_topics([TopicSpec(f"{db}.orders", partitions=3)])
    dag = _generated_dag(airflow_db, tmp_path, _project(db, ["full"]))

    run = dag.test()
    assert str(run.state) == "success", _states(run)
    assert _states(run) == dict.fromkeys(["precheck", "full_sync_plan", "full_sync"], "success")
    _checkpoint_topic_made(kafka, db)
    ids = sorted(json.loads(m.value())["postStruct"]["id"] for m in kafka.read_committed(f"{db}.orders"))
    assert ids == [1, 2, 3]


def test_incremental_only_project_creates_its_checkpoint_topic_in_its_first_step(
    airflow_db, airflow_conn_env, mariadb_database, tmp_path
):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))")
    kafka = KafkaHook()
    kafka.create_topics([TopicSpec(f"{db}.orders", partitions=3)])
    dag = _generated_dag(airflow_db, tmp_path, _project(db, ["incremental"]))

    run = dag.test(logical_date=pendulum.now("UTC").start_of("minute").subtract(minutes=1))
    assert str(run.state) == "success", _states(run)
    assert _states(run) == dict.fromkeys(["precheck", "incremental_sync"], "success")
    _checkpoint_topic_made(kafka, db)
    state = checkpoints.latest((m.key(), m.value()) for m in kafka.read_committed(
        parse_project(_project(db, ["incremental"])).checkpoint_topic))  # fmt: skip
    assert checkpoints.INCREMENTAL_KEY in state, "the run recorded where the next one resumes"
