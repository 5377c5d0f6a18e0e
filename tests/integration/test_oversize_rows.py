"""
`oversize_rows`: a row whose Kafka message is larger than Kafka accepts (a 5 MB BLOB, over the producer's
default `message.max.bytes` of 1,000,000) among small rows, in full sync (seekdb) and incremental sync
(MariaDB). `fail`: the task fails for good naming table, key, size and limit, and nothing of its unit is
visible; a re-run with `skip` then delivers every other row once. `dead_letter`: every other row once and one
record naming the big row in the project's dead-letter topic. Before, librdkafka refused the message with an
error naming neither row nor limit, retried by the task as an outage. An UPDATE whose two images add up past
the limit, on both sources: on the obbinlog double, whose dumps sent events in batches of 1 MiB, that 1.2 MB
event stalled the dump until the double read an event bigger than a batch whole.
"""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.operators.full_sync import FullSyncOperator
from airflow_provider_obkafka.operators.full_sync_plan import FullSyncPlanOperator
from airflow_provider_obkafka.operators.incremental_sync import IncrementalSyncOperator
from airflow_provider_obkafka.operators.schema_sync import SchemaSyncOperator
from tests.integration.incremental_helpers import incremental_project, ready_event

BIG = 5 * 1024 * 1024
BIG_ID = 5
SMALL_IDS = [1, 2, 3, 4, 6, 7, 8]


def _full_project(db: str, policy: str | None, table_policy: str | None = None, **extra: Any) -> Any:
    entry: dict[str, Any] = {"database": db, "tables": ["blobs"], "topic": {"mode": "new", "name": f"{db}.blobs"}}
    if table_policy:
        entry["table_settings"] = {"blobs": {"oversize_rows": table_policy}}
    return parse_project({"name": db, "sync_types": ["schema", "full"], "objects": [entry], **extra,
                          **({"options": {"oversize_rows": policy}} if policy else {})})  # fmt: skip


def _full_setup(seekdb_database) -> tuple[str, Any]:
    db, conn = seekdb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.blobs (id INT PRIMARY KEY, data LONGBLOB)")
    rows = [(i, os.urandom(BIG) if i == BIG_ID else f"small {i}".encode()) for i in [*SMALL_IDS, BIG_ID]]
    cur.executemany(f"INSERT INTO {db}.blobs VALUES (%s, %s)", rows)
    return db, cur


def _ids(topic: str) -> list[int]:
    return sorted(int(m.key()) for m in KafkaHook().read_committed(topic, timeout=120, idle=10))


def _assert_named(text: str, table: str, position: str) -> None:
    for word in (table, f"key {BIG_ID}", "1000000 bytes", "message.max.bytes", position, "oversize_rows"):
        assert word in text, (word, text)
    size = int(text.split("a Kafka message of ")[1].split(" bytes")[0])
    assert size > BIG


def test_full_sync_fails_naming_the_row_then_skip_delivers_the_others(airflow_conn_env, seekdb_database, caplog):
    db, _ = _full_setup(seekdb_database)
    project = _full_project(db, None)
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="oversize"), "run_id": db}
    [work] = FullSyncPlanOperator(task_id="plan", project=project).execute(context)

    with pytest.raises(AirflowFailException) as caught:
        FullSyncOperator(task_id="full_sync", project=project, work=work).execute({})
    _assert_named(str(caught.value), f"{db}.blobs", "chunk")
    assert _ids(f"{db}.blobs") == [], "nothing of the chunk is visible to a read_committed consumer"

    skipping = _full_project(db, "skip")
    with caplog.at_level(logging.WARNING):
        result = FullSyncOperator(task_id="full_sync", project=skipping, work=work).execute({})
    assert (result["rows"], result["oversize_rows"]) == (len(SMALL_IDS), 1)
    assert _ids(f"{db}.blobs") == SMALL_IDS, "every other row exactly once, the big one absent"
    assert any("skipped" in r.getMessage() and f"key {BIG_ID}" in r.getMessage() for r in caplog.records)


def test_full_sync_dead_letters_the_big_row_in_the_same_transaction(airflow_conn_env, seekdb_database):
    db, _ = _full_setup(seekdb_database)
    # the table's setting wins; the topic's max.message.bytes, below the producer's, is the limit
    project = _full_project(db, "fail", table_policy="dead_letter",
                            topic_defaults={"configs": {"max.message.bytes": 500_000}})
    SchemaSyncOperator(task_id="schema_sync", project=project).execute({})
    context = {"dag": SimpleNamespace(dag_id="oversize"), "run_id": db}
    [work] = FullSyncPlanOperator(task_id="plan", project=project).execute(context)
    FullSyncOperator(task_id="full_sync", project=project, work=work).execute({})
    assert _ids(f"{db}.blobs") == SMALL_IDS
    [letter] = KafkaHook().read_committed(project.dead_letter_topic, timeout=120, idle=10)
    record = json.loads(letter.value())
    assert (record["project"], record["table"], record["key"]) == (db, f"{db}.blobs", str(BIG_ID))
    assert record["size"] > BIG and "chunk" in record["position"]
    assert (record["limit"], record["limit_setting"]) == (500_000, f"topic {db}.blobs's max.message.bytes")
    assert len(letter.value()) < 1000, "the record names the row, without its payload"


def _incremental_range(source, cur, db: str, project) -> dict[str, Any]:
    """Small changes around a 5 MB INSERT: the event of the range [start, end) they make."""
    cur.execute(f"CREATE TABLE {db}.blobs (id INT PRIMARY KEY, data LONGBLOB)")
    SchemaSyncOperator(task_id="schema", project=project).execute({})
    start = source.position()
    cur.executemany(f"INSERT INTO {db}.blobs VALUES (%s, %s)", [(i, b"small") for i in (1, 2)])
    cur.execute(f"INSERT INTO {db}.blobs VALUES (%s, %s)", (BIG_ID, os.urandom(BIG)))
    cur.execute(f"INSERT INTO {db}.blobs VALUES (3, 'small')")
    cur.execute(f"UPDATE {db}.blobs SET data = 'changed' WHERE id = 1")
    end = source.position()
    return ready_event(start, end, 5)


def _keys(topic: str) -> list[tuple[int, str]]:
    messages = KafkaHook().read_committed(topic, timeout=120, idle=10)
    return sorted((int(m.key()), json.loads(m.value())["recordType"]) for m in messages)


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_incremental_fails_naming_the_row_then_skip_delivers_the_others(
    airflow_conn_env, source, mariadb_database, caplog, capsys
):  # fmt: skip
    db, conn = mariadb_database
    project = incremental_project(db, ["blobs"], conn_id=source.conn_id)
    event = _incremental_range(source, conn.cursor(), db, project)

    with pytest.raises(AirflowFailException) as caught:
        IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    _assert_named(str(caught.value), f"{db}.blobs", "binlog ")
    assert _keys(f"{db}.blobs") == [], "nothing of the batch is visible to a read_committed consumer"

    skipping = incremental_project(db, ["blobs"], conn_id=source.conn_id, options={"oversize_rows": "skip"})
    with caplog.at_level(logging.WARNING):
        result = IncrementalSyncOperator(task_id="incremental_sync", project=skipping).execute_complete({}, event)
    assert result["changes"] == 4
    assert _keys(f"{db}.blobs") == [(1, "INSERT"), (1, "UPDATE"), (2, "INSERT"), (3, "INSERT")]
    assert any("skipped" in r.getMessage() and f"key {BIG_ID}" in r.getMessage() for r in caplog.records)
    task_log = capsys.readouterr().out  # the operator's logger writes the task log (not caught by caplog)
    assert f"by table: {db}.blobs: 1" in task_log, "the count at the end of the task"


@pytest.mark.parametrize("source", ["mariadb"], indirect=True)
def test_incremental_dead_letters_the_big_row_in_the_same_transaction(airflow_conn_env, source, mariadb_database):
    db, conn = mariadb_database
    project = incremental_project(db, ["blobs"], conn_id=source.conn_id, options={"oversize_rows": "dead_letter"})
    event = _incremental_range(source, conn.cursor(), db, project)
    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete({}, event)
    assert result["changes"] == 4
    assert _keys(f"{db}.blobs") == [(1, "INSERT"), (1, "UPDATE"), (2, "INSERT"), (3, "INSERT")]
    [letter] = KafkaHook().read_committed(project.dead_letter_topic, timeout=120, idle=10)
    record = json.loads(letter.value())
    assert (record["project"], record["table"], record["key"]) == (db, f"{db}.blobs", str(BIG_ID))
    assert record["size"] > BIG and record["limit"] == 1_000_000 and record["position"].startswith("binlog ")


@pytest.mark.timeout(300)
def test_an_update_whose_two_images_add_up_past_the_limit_is_dead_lettered(airflow_conn_env, source, mariadb_database):
    """
    A 600 kB text fits in a message, but its UPDATE to another 600 kB text carries both images (Default:
    `prevStruct` and `postStruct`): over the producer's 1,000,000 bytes. On each source, the obbinlog double
    too (one row per rows event, files of 64 KiB): the INSERT goes out, the UPDATE is dead-lettered, the
    small change after it goes out in the same range.
    """
    db, conn = mariadb_database
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {db}.texts (id INT PRIMARY KEY, body MEDIUMTEXT)")
    project = incremental_project(db, ["texts"], conn_id=source.conn_id, options={"oversize_rows": "dead_letter"})
    SchemaSyncOperator(task_id="schema", project=project).execute({})
    start = source.position()
    cur.execute(f"INSERT INTO {db}.texts VALUES (9, %s)", ("a" * 600_000,))
    cur.execute(f"UPDATE {db}.texts SET body = %s WHERE id = 9", ("b" * 600_000,))
    cur.execute(f"INSERT INTO {db}.texts VALUES (1, 'small')")
    end = source.position()
    result = IncrementalSyncOperator(task_id="incremental_sync", project=project).execute_complete(
        {}, ready_event(start, end, 3)
    )
    assert result["changes"] == 2
    assert _keys(f"{db}.texts") == [(1, "INSERT"), (9, "INSERT")]
    [letter] = KafkaHook().read_committed(project.dead_letter_topic, timeout=120, idle=10)
    record = json.loads(letter.value())
    assert (record["table"], record["key"], record["limit"]) == (f"{db}.texts", "9", 1_000_000)
    assert record["size"] > 1_200_000, "both images are in the message"
