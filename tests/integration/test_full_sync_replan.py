"""
MySQL/MariaDB have no snapshot: a full-sync plan made again (its task cleared) reads live data and cuts other
ranges. A chunk's done-record must then match only the range it covered, never the chunk with its index.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.operators._project import checkpoint_state
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator


def test_a_replanned_full_sync_on_mariadb_loses_no_row(airflow_conn_env, mariadb_database):
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10))")
    cur.execute(f"INSERT INTO {db}.t SELECT seq, 'a' FROM {db}.seq_1_to_3000")
    topic = f"{db}.t"
    KafkaHook().create_topics([TopicSpec(topic, partitions=3)])
    project = parse_project({"name": db, "sync_types": ["full"], "source": {"conn_id": "mariadb_binlog"},
                             "objects": [{"database": db, "tables": ["t"], "topic": {"mode": "existing", "name": topic}}]})  # fmt: skip
    context = {"dag": SimpleNamespace(dag_id=f"obkafka__{db}"), "run_id": "manual__1"}
    plan = FullSyncPlanOperator(task_id="full_sync_plan", project=project, chunk_size=1000)

    first = plan.execute(context)
    assert [item["chunk"]["upper"] for item in first][:2] == [[1001], [2001]]
    FullSyncOperator(task_id="full_sync", project=project, work=first[0]).execute({})  # rows 1..1000

    cur.execute(f"DELETE FROM {db}.t WHERE id <= 500")  # the plan made again cuts [start, 1501), ...
    again = plan.execute(context)
    assert again[0]["sync_id"] == first[0]["sync_id"], "the same full synchronization, planned again"
    assert again[0]["chunk"]["upper"] == [1501]
    results = [FullSyncOperator(task_id="full_sync", project=project, work=item).execute({}) for item in again]
    assert not any(result.get("skipped") for result in results), "no range of the new plan was done before"

    ids = {json.loads(m.value())["postStruct"]["id"] for m in KafkaHook().read_committed(topic)}
    assert set(range(501, 3001)) <= ids, f"rows lost: {sorted(set(range(501, 3001)) - ids)[:5]}..."
    state = checkpoint_state(project, KafkaHook())
    done = [key for key in state if key.startswith(f"chunk/{first[0]['sync_id']}/")]
    assert len(done) == 1 + len(again) and all("/range-" in key for key in done)
    assert checkpoints.chunk_range_key(first[0]["sync_id"], db, "t", first[0]["chunk"]) in state
