"""
More chunks than Airflow's `[core] max_map_length`: work items carry several chunks, every row once (`dag.test()`).

Airflow refuses to map a task over a list longer than `max_map_length` (default 1024): the plan's task fails
with `UnmappableXComLengthPushed`. A table of 10,000,000 rows in the default 100,000-row chunks fits; one of
200,000,000 rows, or a small `chunk_size`, did not.
"""

from __future__ import annotations

import yaml

from airflow_provider_obkafka.dag_factory import dag_id_for
from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators._project import checkpoint_state
from tests.integration.test_project_dag import _load_dag_file, _records, _states

ROWS, CHUNK_SIZE, MAX_MAP_LENGTH = 2_300, 100, 6  # 23 chunks, at most 6 mapped task instances


def test_more_chunks_than_max_map_length_deliver_every_row_once(
    airflow_db, airflow_conn_env, seekdb_database, tmp_path, monkeypatch
):
    db, conn = seekdb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, note VARCHAR(20))")
    cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s)", [(i, f"n{i}") for i in range(ROWS)])
    topic = f"{db}.orders"
    project = {
        "name": db,
        "sync_types": ["schema", "full"],
        "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": topic}}],
        "options": {"chunk_size": CHUNK_SIZE},
    }
    projects = tmp_path / "projects"
    projects.mkdir()
    (projects / f"{db}.yaml").write_text(yaml.safe_dump(project))
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", str(MAX_MAP_LENGTH))
    dag = _load_dag_file(airflow_db, f"maplen_{db}", projects)[dag_id_for(db)]

    run = dag.test()
    assert str(run.state) == "success", _states(run)
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "full_sync"]
    assert 1 < len(mapped) <= MAX_MAP_LENGTH, f"{len(mapped)} mapped chunk tasks"

    kafka = KafkaHook()
    per_key = _records(kafka, topic)
    assert {key: len(records) for key, records in per_key.items() if len(records) != 1} == {}, "each row once"
    assert sorted(int(key) for key in per_key) == list(range(ROWS))
    state = checkpoint_state(parse_project(project), kafka)
    finished = [value for key, value in state.items() if key.startswith(checkpoints.finished_key(""))]
    assert len(finished) == 1, "full_sync_finish closed the full sync: every chunk of every work item was done"
    done = [key for key in state if key.startswith("chunk/") and key.endswith(tuple(f"/{i}" for i in range(23)))]
    assert len(done) == -(-ROWS // CHUNK_SIZE), "one done-record per chunk"
