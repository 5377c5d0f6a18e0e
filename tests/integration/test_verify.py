"""
`verify` against the real services: a full sync from seekdb and an incremental sync from MariaDB, then the
topics as written (they pass) and copies corrupted on purpose (each corruption is found and named).

A topic cannot be edited, so a corruption is a copy of the good topic with one message removed, one added twice
or one changed, mapped as an existing topic by a project that shares the original's checkpoint topic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.operators._verify_io import VerifySettings, verify_project
from tests.integration.dag_files import write_full_sync_dag, write_incremental_dag
from tests.integration.incremental_helpers import incremental_project

Edit = Callable[[list[Any]], list[tuple[bytes | None, bytes, int]]]


def _copy(kafka: KafkaHook, topic: str, name: str, edit: Edit) -> None:
    """
    Write `edit(messages of topic)` (key, value, partition) into a new topic `name`, each message with its
    original timestamp (the order across partitions), a changed one with the latest.
    """
    partitions = kafka.describe_topics([topic])[topic].partitions
    kafka.create_topics([TopicSpec(name, partitions)])
    producer = kafka.producer()
    messages = kafka.read_committed(topic, timeout=120)
    when = {(m.key(), m.value()): m.timestamp()[1] for m in messages}
    for key, value, partition in edit(messages):
        timestamp = when.get((key, value), max(when.values()))  # a changed message: written last
        producer.produce(name, value=value, key=key, partition=partition, timestamp=timestamp)
    assert producer.flush(60) == 0


def _as_existing(project: Any, topic: str, name: str) -> Any:
    """The project with its tables mapped to the existing topic `topic`, reading the original's checkpoints."""
    data = project.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data.update(name=name, checkpoint_topic=project.checkpoint_topic,
                sync_types=[t for t in data["sync_types"] if t != "schema"])  # fmt: skip
    for entry in data["objects"]:
        entry["topic"] = {"mode": "existing", "name": topic}
    return parse_project(data)


def _cli(tmp_path, project: Any, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{project.slug}.yaml"
    path.write_text(project.to_yaml())
    command = [sys.executable, "-m", "airflow_provider_obkafka", "verify", str(path), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def _found(reports) -> set[tuple[str, str, str, str]]:
    return {(d.kind, d.table, d.range.split(" [")[0], d.key) for r in reports for d in r.differences}


def _by_id(messages, field: str = "postStruct") -> dict[int, Any]:
    return {json.loads(m.value())[field]["id"]: m for m in messages}


@pytest.fixture
def full_synced(airflow_db, airflow_conn_env, seekdb_database):
    """3,000 orders fully synchronized from seekdb in three chunks of 1,000: (project, topic, cursor)."""
    db, conn = seekdb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, customer VARCHAR(20), total DECIMAL(12,2))")
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s, %s)", [(i, f"c{i % 7}", f"{i}.25") for i in range(3000)])
    topic = f"{db}.orders"
    project = parse_project({"name": db, "sync_types": ["schema", "full"],
                             "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": topic}}]})
    assert str(write_full_sync_dag(airflow_db, f"verify_{project.slug}", project, 1000).test().state) == "success"
    return project, topic, cur


def test_full_verify_passes_on_the_topic_as_written_and_by_the_command(full_synced, tmp_path):
    project, topic, cur = full_synced
    cur.execute(f"UPDATE {topic} SET total = 0 WHERE id < 10")  # after the snapshot: verify reads AS OF it
    (report,) = verify_project(project, VerifySettings(mode="full"))
    assert report.ok, report.lines()
    assert [(f.range.split(" [")[0], f.source_rows, f.topic_rows, f.recorded_rows) for f in report.figures] == [
        ("chunk 0", 1000, 1000, 1000), ("chunk 1", 1000, 1000, 1000), ("chunk 2", 1000, 1000, 1000)
    ]
    done = _cli(tmp_path, project, "--mode", "full")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify full: OK: 3 range(s), 3000 source row(s), at snapshot SCN" in done.stdout


def test_full_verify_finds_and_names_a_removed_a_duplicated_and_a_changed_message(full_synced, tmp_path):
    project, topic, _ = full_synced
    kafka = KafkaHook()

    def corrupt(messages):
        rows = _by_id(messages)
        changed = json.loads(rows[2500].value())
        changed["postStruct"]["total"] = "1.00"
        out = [(m.key(), m.value(), m.partition()) for i, m in rows.items() if i not in (5, 2500)]
        out.append((rows[1500].key(), rows[1500].value(), rows[1500].partition()))
        out.append((rows[2500].key(), json.dumps(changed).encode(), rows[2500].partition()))
        return out

    _copy(kafka, topic, f"{topic}.bad", corrupt)
    bad = _as_existing(project, f"{topic}.bad", f"{project.name}_bad")
    (report,) = verify_project(bad, VerifySettings(mode="full"))
    table = topic
    assert _found([report]) == {
        ("missing in topic", table, "chunk 0", "id=5"),
        ("duplicated message", table, "chunk 1", "id=1500"),
        ("different value", table, "chunk 2", "id=2500"),
    }, report.lines()
    done = _cli(tmp_path, bad, "--mode", "full")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DIFFERENCES FOUND" in done.stdout and "chunk 1 [(1000,), (2000,)): duplicated message: id=1500" in done.stdout


@pytest.fixture
def incrementally_synced(airflow_db, airflow_conn_env, mariadb_database):
    """A MariaDB table changed through inserts, updates and deletes, synchronized incrementally; writes stopped."""
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10), total DECIMAL(8,2))")
    project = incremental_project(db, ["orders"])
    dag = write_incremental_dag(airflow_db, f"verify_inc_{project.slug}", project)
    assert str(dag.test().state) == "success"
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, 'NEW', %s)", [(i, i) for i in range(1, 201)])
    cur.execute(f"UPDATE {db}.orders SET status = 'PAID' WHERE id <= 50")
    cur.execute(f"DELETE FROM {db}.orders WHERE id > 190")
    cur.execute(f"UPDATE {db}.orders SET id = 1000 WHERE id = 100")  # a key change
    assert str(dag.test().state) == "success"
    return project, f"{db}.orders"


def test_incremental_verify_passes_and_finds_each_corruption(incrementally_synced, tmp_path):
    project, topic = incrementally_synced
    settings = VerifySettings(mode="incremental", settle_timeout_s=5, rechecks=1, max_keys=64)
    (report,) = verify_project(project, settings)
    assert report.ok, report.lines()
    assert len(report.figures) == 3 and sum(f.source_rows for f in report.figures) == 190, "190 rows, 64 a bucket"
    kafka = KafkaHook()

    def corrupt(messages):
        kinds = [(json.loads(m.value()), m) for m in messages]
        out = []
        for value, m in kinds:
            key = (value["recordType"], (value["postStruct"] or value["prevStruct"])["id"])
            if key == ("INSERT", 77):
                continue  # removed: id 77 is never written (ids up to 50 are updated after)
            if key == ("UPDATE", 20):
                value["postStruct"]["total"] = 999
            out.append((m.key(), json.dumps(value).encode() if key[1] == 20 else m.value(), m.partition()))
            if key == ("DELETE", 195):
                out.append((m.key(), m.value(), m.partition()))
        replay = next(m for value, m in kinds if value["recordType"] == "INSERT" and value["postStruct"]["id"] == 30)
        out.append((replay.key(), replay.value(), replay.partition()))  # an old message again: the state goes back
        return out

    _copy(kafka, topic, f"{topic}.bad", corrupt)
    bad = _as_existing(project, f"{topic}.bad", f"{project.name}_bad")
    (report,) = verify_project(bad, settings)
    assert {(kind, key) for kind, _, _, key in _found([report])} == {
        ("missing in topic", "id=77"), ("different value", "id=20"), ("different value", "id=30"),
    }, report.lines()
    assert all(d.table == topic and d.range.startswith("bucket ") for d in report.differences)
    done = _cli(tmp_path, bad, "--mode", "incremental", "--settle-timeout", "5", "--rechecks", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "missing in topic: id=77" in done.stdout
