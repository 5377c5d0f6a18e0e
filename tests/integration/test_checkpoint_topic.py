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
from airflow_provider_obkafka.operators._project import ensure_checkpoint_topic
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
        "options": {"defer_hold_s": 0},  # dag.test(): no scheduler to race
        "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "existing", "name": f"{db}.orders"}}],
    }


def _checkpoint_topic_made(kafka: KafkaHook, name: str) -> None:
    topic = parse_project(_project(name, ["incremental"])).checkpoint_topic
    spec = checkpoints.checkpoint_topic_spec(topic, kafka.broker_count())
    found = kafka.describe_topics([topic], config_keys=tuple(spec.configs))
    assert topic in found, "the first step created the checkpoint topic"
    assert (found[topic].partitions, found[topic].replication_factor) == (1, spec.replication_factor)
    assert found[topic].configs == spec.configs, "compacted, small segments, min.insync.replicas to match"


def test_an_existing_checkpoint_topic_gets_the_settings_compaction_needs(airflow_conn_env, unique_name):
    """A checkpoint topic made before (compacted, 7-day segments) gets segment.ms and min.insync.replicas."""
    kafka = KafkaHook()
    project = parse_project(_project(unique_name("db"), ["incremental"]))
    old = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
    kafka.create_topics([TopicSpec(project.checkpoint_topic, 1, 1, old)])
    done = ensure_checkpoint_topic(project, kafka)
    assert done.startswith("exists, configs set: ") and "segment.ms=600000" in done
    _checkpoint_topic_made(kafka, project.name)
    assert ensure_checkpoint_topic(project, kafka) == "exists", "idempotent"


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
    assert _states(run) == dict.fromkeys(
        ["precheck", "full_sync_plan", "full_sync", "full_sync_report", "full_sync_finish"], "success"
    )
    _checkpoint_topic_made(kafka, db)
    ids = sorted(json.loads(m.value())["postStruct"]["id"] for m in kafka.read_committed(f"{db}.orders"))
    assert ids == [1, 2, 3]

    # the finished full sync keeps its done-records (verify reads them) beside its finished record
    topic = parse_project(_project(db, ["full"])).checkpoint_topic
    state = checkpoints.latest((m.key(), m.value()) for m in kafka.read_committed(topic))
    (finished,) = [key for key in state if key.startswith("full/finished/")]
    assert state[finished]["rows"] == 3 and state[finished]["chunks"] == 1
    first = finished.rsplit("/", 1)[1]
    assert [key for key in state if key.startswith(f"chunk/{first}/")], state

    again = dag.test()  # a new run: a new full sync, whose finish tombstones every record of the first
    assert str(again.state) == "success", _states(again)
    records = kafka.read_committed(topic)
    state = checkpoints.latest((m.key(), m.value()) for m in records)
    assert not [key for key in state if first in key], state
    tombstones = {m.key().decode() for m in records if m.value() is None}
    assert {k.split("/")[0] for k in tombstones} == {"chunk", "snapshot", "full"}
    assert all(first in key for key in tombstones)


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
