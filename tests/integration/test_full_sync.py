"""Schema and full synchronization through Airflow (`dag.test()`) against seekdb and the real broker."""

from __future__ import annotations

import json
import zlib
from collections import defaultdict

import pytest

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.routing.partitioning import partition_for_key
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from tests.integration.dag_files import write_full_sync_dag


@pytest.fixture
def kafka(airflow_conn_env) -> KafkaHook:
    return KafkaHook()


@pytest.fixture
def source_db(seekdb_database):
    """A fresh seekdb database: (name, cursor)."""
    name, conn = seekdb_database
    return name, conn.cursor()


def _fill_orders(cur, db: str, rows: int) -> None:
    cur.execute(f"CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, customer VARCHAR(20) NOT NULL, total DECIMAL(12,2))")
    step = 5000
    for start in range(0, rows, step):
        cur.executemany(
            f"INSERT INTO {db}.orders VALUES (%s, %s, %s)",
            [(i, f"c{i % 97}", f"{i}.25") for i in range(start, min(start + step, rows))],
        )


def _project(db: str, objects: list[dict], partitioning: str = "Hash") -> dict:
    return {
        "name": db,
        "sync_types": ["schema", "full"],
        "objects": objects,
        "options": {"partitioning": partitioning, "business_system_id": "shop"},
    }


def _run(airflow_db, project: dict, chunk_size: int):
    parsed = parse_project(project)
    dag = write_full_sync_dag(airflow_db, f"full_{parsed.slug}", parsed, chunk_size)
    run = dag.test()
    assert str(run.state) == "success", run.state
    return parsed


@pytest.mark.compat
def test_full_sync_hash_exactly_once_with_checksum_and_key_placement(airflow_db, source_db, kafka):
    db, cur = source_db
    _fill_orders(cur, db, 20_000)
    topic = f"{db}.orders"
    project = _run(airflow_db, _project(db, [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": topic}}]), 3000)

    messages = kafka.read_committed(topic, timeout=120)
    assert len(messages) == 20_000
    assert kafka.describe_topics([topic])[topic].partitions == 3
    rows = [json.loads(m.value())["postStruct"] for m in messages]
    assert sorted(r["id"] for r in rows) == list(range(20_000)), "every row exactly once"
    cur.execute(f"SELECT SUM(CRC32(CONCAT_WS('|', id, customer, total))) FROM {db}.orders")
    source_sum = int(cur.fetchone()[0])
    kafka_sum = sum(zlib.crc32(f"{r['id']}|{r['customer']}|{r['total']}".encode()) for r in rows)
    assert kafka_sum == source_sum
    for message in messages:
        assert message.key() == str(json.loads(message.value())["postStruct"]["id"]).encode()
        assert message.partition() == partition_for_key(message.key(), 3), "Java-compatible murmur2 placement"
    first = json.loads(messages[0].value())
    assert first["recordType"] == "ROW" and first["prevStruct"] is None
    assert first["allMetaData"]["table_name"] == "orders" and first["allMetaData"]["record_primary_key"] == "id"

    records = kafka.read_committed(project.checkpoint_topic)
    done = [m for m in records if m.key().startswith(b"chunk/")]
    assert len(done) == 7 and sum(json.loads(m.value())["rows"] for m in done) == 20_000
    (full,) = [json.loads(m.value()) for m in records if m.key() == checkpoints.LAST_FULL_SYNC_KEY.encode()]
    assert (full["scn"] + 1) % 1000 == 0, "read AS OF the last ns before a µs: the handoff cutoff is exact"


def test_one_partition_column_selection_and_tables_merged_into_one_topic(airflow_db, source_db, kafka):
    db, cur = source_db
    _fill_orders(cur, db, 500)
    cur.execute(f"CREATE TABLE {db}.items (order_id BIGINT NOT NULL, line INT NOT NULL, sku VARCHAR(8), note TEXT, PRIMARY KEY (order_id, line))")
    cur.executemany(f"INSERT INTO {db}.items VALUES (%s, %s, %s, %s)", [(i // 3, i % 3, f"s{i}", "x") for i in range(300)])
    cur.execute(f"CREATE TABLE {db}.logs (ts INT, msg VARCHAR(10))")
    cur.executemany(f"INSERT INTO {db}.logs VALUES (%s, %s)", [(i, f"m{i}") for i in range(50)])
    topic = f"{db}.all"
    objects = [
        {"database": db, "tables": ["orders", "items"], "topic": {"mode": "new", "name": topic},
         "table_settings": {"items": {"columns": ["order_id", "sku"], "shard_columns": ["order_id"]}}},
        {"database": db, "tables": ["logs"], "topic": {"mode": "new", "name": topic}},
    ]
    _run(airflow_db, _project(db, objects, partitioning="One"), 200)

    messages = kafka.read_committed(topic, timeout=60)
    assert len(messages) == 500 + 300 + 50
    assert {m.partition() for m in messages} == {0}, "One: everything in partition 0"
    by_table = defaultdict(list)
    for message in messages:
        value = json.loads(message.value())
        by_table[value["allMetaData"]["table_name"]].append((message.key(), value["postStruct"]))
    items = by_table["items"]
    assert {tuple(post) for _, post in items} == {("order_id", "sku")}, "only the selected columns"
    assert {key for key, post in items} == {str(post["order_id"]).encode() for _, post in items}
    assert len(by_table["orders"]) == 500 and len(by_table["logs"]) == 50
    assert all(key is None for key, _ in by_table["logs"]), "no primary or unique key: no message key"


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        ([{"database": "{db}", "tables": ["nope"], "topic": {"mode": "new", "name": "{db}.t"}}], "table {db}.nope does not exist"),
        ([{"database": "{db}", "tables": ["v"], "topic": {"mode": "new", "name": "{db}.t"}}], "{db}.v is a view, not a physical table"),
        ([{"database": "{db}", "tables": ["orders"], "topic": {"mode": "existing", "name": "{db}.missing"}}],
         "'{db}.missing' is mapped as an existing topic but does not exist"),
        ([{"database": "{db}", "tables": ["orders"], "topic": {"mode": "new", "name": "{db}.t"}, "shard_columns": ["region"]}],
         "table {db}.orders has no column 'region'"),
    ],
)
def test_bad_input_fails_before_anything_is_written(airflow_db, source_db, kafka, objects, expected):
    db, cur = source_db
    _fill_orders(cur, db, 10)
    cur.execute(f"CREATE VIEW {db}.v AS SELECT id FROM {db}.orders")
    text = json.dumps(objects).replace("{db}", db)
    project = parse_project(_project(db, json.loads(text)))
    dag = write_full_sync_dag(airflow_db, f"bad_{project.slug}", project, 100)
    run = dag.test()
    assert str(run.state) == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "schema_sync")
    assert str(ti.state) == "failed"
    assert not [t for t in kafka.list_topics() if t.startswith(db)], "no topic was created"
    from airflow_provider_obkafka.engine.routing.plan import resolve
    from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
    from airflow_provider_obkafka.engine.routing.plan import topic_specs

    hook = OceanBaseHook()
    plan = resolve(project, hook.list_tables, hook.describe_table)
    problems = plan.problems + topic_specs(project, plan, kafka.list_topics())[1]
    assert any(expected.replace("{db}", db) in problem for problem in problems), problems


def test_invalid_topic_name_is_rejected_before_anything_runs(source_db):
    db, _ = source_db
    with pytest.raises(Exception, match="a topic name must be 3 to 64 characters"):
        parse_project(_project(db, [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": "a b"}}]))


def _verify_stream(kafka: KafkaHook, topic: str, partitions: int) -> tuple[int, int, set[int]]:
    """Read a topic with a read_committed consumer without keeping the messages: count, row checksum, ids."""
    count = checksum = misplaced = 0
    ids: set[int] = set()
    for message in kafka.iter_committed(topic, timeout=600, idle=10):
        row = json.loads(message.value())["postStruct"]
        count += 1
        ids.add(row["id"])
        checksum += zlib.crc32(f"{row['id']}|{row['customer']}|{row['total']}".encode())
        misplaced += message.partition() != partition_for_key(message.key(), partitions)
    assert misplaced == 0, "every key in its murmur2 partition"
    return count, checksum, ids


def test_one_million_rows_through_airflow_exactly_once(airflow_db, source_db, kafka):
    db, cur = source_db
    _fill_orders(cur, db, 1_000_000)
    topic = f"{db}.orders"
    _run(airflow_db, _project(db, [{"database": db, "tables": ["orders"], "topic": {"mode": "new", "name": topic}}]), 100_000)
    count, checksum, ids = _verify_stream(kafka, topic, 3)
    assert count == 1_000_000
    assert len(ids) == 1_000_000, "no row twice"
    cur.execute(f"SELECT SUM(CRC32(CONCAT_WS('|', id, customer, total))) FROM {db}.orders")
    assert checksum == int(cur.fetchone()[0])
