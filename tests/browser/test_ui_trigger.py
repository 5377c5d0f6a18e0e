"""
The Airflow UI, driven as a person would: headless Chromium opens a project's DAG in `airflow standalone`,
unpauses it, sets `tables` in the trigger form, triggers, and waits until the run page shows success.
Kafka then holds the rows of the table chosen in the form, and none of the other table's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from airflow_provider_obkafka.dag_factory import dag_id_for
from airflow_provider_obkafka.hooks.kafka import KafkaHook

BROWSER_DIR = Path(__file__).resolve().parent
SCREENSHOT = BROWSER_DIR.parents[1] / "docs" / "screenshots" / "dag-run.png"
ORDERS, CUSTOMERS = 300, 40


def _create_tables(conn, db: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, customer_id INT, total DECIMAL(10,2))")
        cur.execute(f"CREATE TABLE {db}.customers (id INT PRIMARY KEY, name VARCHAR(40))")
        cur.executemany(f"INSERT INTO {db}.orders VALUES (%s, %s, %s)",
                        [(i, i % CUSTOMERS, f"{i}.50") for i in range(1, ORDERS + 1)])  # fmt: skip
        cur.executemany(f"INSERT INTO {db}.customers VALUES (%s, %s)",
                        [(i, f"customer {i}") for i in range(CUSTOMERS)])  # fmt: skip


def test_trigger_from_the_ui_runs_the_full_sync(seekdb_database, airflow_ui, tmp_path):
    db, conn = seekdb_database
    _create_tables(conn, db)
    name = f"ui_{db}"
    project = {
        "name": name,
        "description": "Browser test: two seekdb tables, full synchronization of the one chosen in the form.",
        "tags": ["browser-test"],
        "sync_types": ["schema", "full"],
        "objects": [
            {"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": f"{db}.orders"}},
            {"database": db, "tables": ["customers"], "topic": {"mode": "new", "name": f"{db}.customers"}},
        ],
        "topic_defaults": {"partitions": 2},
    }
    (airflow_ui.projects_dir / f"{name}.yaml").write_text(yaml.safe_dump(project, sort_keys=False))

    shot = tmp_path / "dag-run.png"
    proc = subprocess.run(
        ["node", "trigger.mjs", airflow_ui.url, dag_id_for(name), f"{db}.orders", str(shot)],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"the UI run did not succeed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
        f"--- airflow standalone ---\n{airflow_ui.log_tail()}"
    )
    print(proc.stderr)  # the UI steps with their times, shown by pytest -rA
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["state"] == "success", result
    assert result["wasPaused"], "the DAG is created paused; the test unpaused it in the UI"
    if os.environ.get("OBKAFKA_UPDATE_SCREENSHOT"):  # refresh the docs' screenshot only when asked
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOT)

    kafka = KafkaHook()
    orders = [json.loads(m.value()) for m in kafka.read_committed(f"{db}.orders", timeout=60)]
    assert sorted(m["postStruct"]["id"] for m in orders) == list(range(1, ORDERS + 1)), "each order once"
    assert {m["recordType"] for m in orders} == {"ROW"}
    assert kafka.read_committed(f"{db}.customers", timeout=10) == [], "customers were not chosen in the form"
