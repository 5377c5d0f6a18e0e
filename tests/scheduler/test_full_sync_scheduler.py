"""Full synchronization under the real scheduler: many chunks in parallel on LocalExecutor, exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.naming import broker_address
from tests.scheduler.helpers import as_text, final_state, records_per_key, table_rows
from tests.statsd_listener import StatsdListener

if TYPE_CHECKING:
    from collections.abc import Iterator

ROWS, CHUNK_SIZE = 12_000, 1_000  # 12 chunks: three waves on the harness' four task slots
COLUMNS = ["id", "customer", "total"]


@pytest.fixture
def orders(seekdb_database):
    """A seekdb table of ROWS rows; returns (database, cursor)."""
    db, conn = seekdb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, customer VARCHAR(20) NOT NULL, total DECIMAL(12,2))")
    for start in range(0, ROWS, 4000):
        cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s, %s)",
                        [(i, f"c{i % 97}", f"{i}.25") for i in range(start, min(start + 4000, ROWS))])  # fmt: skip
    return db, cur


@pytest.fixture
def statsd(airflow_harness) -> Iterator[StatsdListener]:
    """A StatsD listener where the harness' components send their metrics (`[metrics] statsd_port`)."""
    listener = StatsdListener(airflow_harness.ports["statsd"])
    yield listener
    listener.close()


def test_parallel_chunks_under_the_scheduler_exactly_once(
    airflow_api, deploy_project, airflow_conn_env, orders, statsd
):
    db, cur = orders
    topic = f"{db}.orders"
    dag_id = deploy_project({
        "name": db, "sync_types": ["schema", "full"],
        "objects": [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": topic}}],
        "options": {"chunk_size": CHUNK_SIZE},
    })  # fmt: skip
    airflow_api.unpause(dag_id)
    run_id = airflow_api.trigger(dag_id)
    run = airflow_api.wait_for_run(dag_id, run_id, timeout=600)

    chunks = [ti for ti in airflow_api.task_instances(dag_id, run_id) if ti["task_id"] == "full_sync"]
    failed = {ti["map_index"]: (ti["state"], ti["try_number"]) for ti in chunks
              if ti["state"] != "success" or ti["try_number"] != 1}  # fmt: skip
    logs = {index: airflow_api.log_text(dag_id, run_id, "full_sync", tries, index)[-1500:]
            for index, (_, tries) in failed.items()}  # fmt: skip
    assert run["state"] == "success", (airflow_api.states(dag_id, run_id), logs)
    assert len(chunks) == ROWS // CHUNK_SIZE
    assert failed == {}, f"every chunk succeeds at its first try: {failed}, logs: {logs}"
    rows = statsd.wait_for(f"airflow.obkafka.full.rows.{db}", len(chunks))
    assert sum(value for value, _ in rows) == ROWS, "each chunk's task process sent its rows to StatsD"
    assert len(statsd.wait_for(f"airflow.obkafka.full.chunk_time.{db}", len(chunks))) == len(chunks)

    per_key = records_per_key(KafkaHook(), topic)
    assert {key: len(records) for key, records in per_key.items() if len(records) != 1} == {}, "each row once"
    assert as_text(final_state(per_key)) == table_rows(cur, db, "orders", COLUMNS)
    log = airflow_api.log_text(dag_id, run_id, "full_sync", 1, 0)
    assert "rows committed" in log, "the chunk's log, read through the API as the UI does"
    events = sorted((e["uri"], e["source_task_id"], e["extra"]) for e in airflow_api.asset_events(dag_id, run_id))
    broker = broker_address(KafkaHook().client_config()["bootstrap.servers"])
    extra = {"rows": ROWS, "chunks": len(chunks)}
    assert events == sorted([(f"kafka://{broker}/{topic}", "full_sync_report", extra),
                             (f"kafka://kafka_default/{topic}", "full_sync_report", extra)]), (
        "one event per topic from one task: the Kafka provider's broker form and the connection-id form"
    )  # fmt: skip
