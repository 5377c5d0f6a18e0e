"""
Full synchronization from MariaDB while the table changes, then incremental synchronization to the end, from each
change-log source (MariaDB's binlog, the obbinlog double tailing the same MariaDB): the latest state per key in
Kafka equals the table.

MariaDB has no `AS OF SNAPSHOT`: the full sync records the binlog position first and then reads the chunks as
they are at that moment, so incremental sync replays every change after that position, some of which the
chunks already show (at-least-once at the handoff, as docs/benchmarks.md and the README say). Applying the
messages in order (ROW/INSERT set the key, UPDATE moves it from the before key to the after key, DELETE removes
it) must give the table exactly: nothing lost, replays harmless. Partitioning `One` puts every message in one
partition, so primary-key updates have one order across keys.
"""

from __future__ import annotations

import json
import random
import threading
import time

from airflow_provider_obkafka.engine.kafka import checkpoints
from airflow_provider_obkafka.engine.binlog.reader import BinlogReader
from airflow_provider_obkafka.engine.changes.change import RowChange
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.loader import parse_project
from airflow_provider_obkafka.models.position import BinlogPosition
from airflow_provider_obkafka.operators._project import checkpoint_state
from tests.integration.dag_files import write_full_sync_dag, write_incremental_dag

ROWS = 20_000


class Writer(threading.Thread):
    """Inserts, updates, deletes and primary-key updates, alone or several per transaction, until stopped."""

    def __init__(self, conn, table: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.table = conn, table
        self.ids = list(range(1, ROWS + 1))
        self.next_id = ROWS + 1
        self.low_id = 0
        self.ops = 0
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.rng = random.Random(20240607)

    def _pick(self) -> int:
        index = self.rng.randrange(len(self.ids))
        self.ids[index], self.ids[-1] = self.ids[-1], self.ids[index]
        return self.ids[-1]

    def _one(self, cur) -> None:
        kind = self.rng.choice(["insert", "update", "update", "delete", "pk_up", "pk_down"])
        if kind == "insert":
            cur.execute(
                f"INSERT INTO {self.table} VALUES (%s, %s, %s)", (self.next_id, f"new-{self.next_id}", 0)
            )
            self.ids.append(self.next_id)
            self.next_id += 1
        elif kind == "update":
            cur.execute(
                f"UPDATE {self.table} SET v = %s, n = n + 1 WHERE id = %s", (f"upd-{self.ops}", self._pick())
            )
        elif kind == "delete":
            cur.execute(f"DELETE FROM {self.table} WHERE id = %s", (self._pick(),))
            self.ids.pop()
        else:  # move a row to a key the chunks have already passed (pk_down) or not reached yet (pk_up)
            if kind == "pk_up":
                new, self.next_id = self.next_id, self.next_id + 1
            else:
                self.low_id -= 1
                new = self.low_id
            cur.execute(
                f"UPDATE {self.table} SET id = %s, v = %s WHERE id = %s",
                (new, f"moved-{self.ops}", self._pick()),
            )
            self.ids[-1] = new
        self.ops += 1

    def run(self) -> None:
        try:
            with self.conn.cursor() as cur:
                while not self.done.is_set():
                    size = self.rng.choice([1, 1, 1, 3])
                    cur.execute("BEGIN")
                    for _ in range(size):
                        self._one(cur)
                    cur.execute("COMMIT")
                    time.sleep(0.002)
        except BaseException as exc:  # reported by the test
            self.error = exc


def _fold(messages) -> dict[int, tuple]:
    """The table a consumer builds from the messages in order; the number of ROW and incremental messages."""
    state: dict[int, tuple] = {}
    for message in messages:
        value = json.loads(message.value())
        before, after = value["prevStruct"], value["postStruct"]
        if before is not None:
            state.pop(before["id"], None)
        if after is not None:
            state[after["id"]] = (after["v"], after["n"])
    return state


def _changes_since(start: BinlogPosition, db: str, source) -> int:
    """Row changes of `db.t` in the change log from `start` to its end, read independently of the operators."""
    describe = source.hook().describe_table if source.is_obbinlog else None  # obbinlog: no column names
    with BinlogReader(source.settings(), 4545, start, {(db, "t")}, describe=describe) as reader:
        return sum(isinstance(item, RowChange) for item in reader.iter_changes())


def test_full_sync_under_writes_then_incremental_converges(
    airflow_db, airflow_conn_env, source, mariadb_database, mariadb_conn
):
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(40), n INT NOT NULL)")
        cur.execute(f"INSERT INTO {db}.t SELECT seq, CONCAT('row-', seq), 0 FROM {db}.seq_1_to_{ROWS}")
    topic = f"{db}.t"
    project = parse_project(
        {"name": db, "sync_types": ["schema", "full", "incremental"], "source": {"conn_id": source.conn_id},
         "options": {"partitioning": "One"},
         "objects": [{"database": db, "tables": ["t"], "topic": {"mode": "new", "name": topic}}]}
    )  # fmt: skip
    full_dag = write_full_sync_dag(airflow_db, f"full_{project.slug}", project, chunk_size=2_000)
    incremental_dag = write_incremental_dag(airflow_db, f"inc_{project.slug}", project)

    writer = Writer(mariadb_conn(autocommit=False), f"{db}.t")
    writer.start()
    while writer.ops < 50 and writer.is_alive():
        time.sleep(0.01)
    ops_before = writer.ops
    try:
        assert str(full_dag.test().state) == "success"
        ops_during = writer.ops - ops_before
        time.sleep(0.5)
    finally:
        writer.done.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert ops_during >= 100, f"only {ops_during} writes ran during the full sync: the test proves nothing"

    kafka = KafkaHook()
    state = checkpoint_state(project, kafka)
    recorded = state[checkpoints.LAST_FULL_SYNC_KEY]
    assert recorded["scn"] is None and recorded["binlog"]["file"], recorded  # MariaDB: a binlog position only
    rows_after_full = len(kafka.read_committed(topic, timeout=120))

    source.caught_up()
    assert str(incremental_dag.test().state) == "success"
    messages = kafka.read_committed(topic, timeout=300)
    assert {m.partition() for m in messages} == {0}
    messages.sort(key=lambda m: m.offset())
    kinds = [json.loads(m.value())["recordType"] for m in messages]
    assert kinds[:rows_after_full] == ["ROW"] * rows_after_full and "ROW" not in kinds[rows_after_full:]
    since = _changes_since(BinlogPosition(**recorded["binlog"]), db, source)
    assert len(kinds) - rows_after_full == since > 0, "each change after the recorded position, once"

    with conn.cursor() as cur:
        cur.execute(f"SELECT id, v, n FROM {db}.t")
        table = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
    folded = _fold(messages)
    missing = sorted(set(table) - set(folded))[:10]
    extra = sorted(set(folded) - set(table))[:10]
    wrong = [key for key in table if key in folded and folded[key] != table[key]][:10]
    assert not (missing or extra or wrong), f"missing {missing}, extra {extra}, different {wrong}"
    assert len(folded) == len(table)
