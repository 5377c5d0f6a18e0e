"""
The demo's data: sample tables on seekdb and MariaDB, a writer of live changes, and checks of what Kafka got.

Used by scripts/demo.py. Plain pymysql and confluent-kafka through the provider's KafkaHook; no Airflow here.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pymysql

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from airflow_provider_obkafka.hooks.kafka import KafkaHook
    from devservices import ServiceInfo

STATUSES = ("NEW", "PAID", "SHIPPED", "DONE", "CANCELLED")
CITIES = ("Hangzhou", "Beijing", "Shanghai", "Shenzhen", "Chengdu", "Berlin", "Lisbon", "Austin")
MOVE_COLUMNS = "(product_id, qty, reason, moved_at)"


def connect(info: ServiceInfo, **kwargs: Any) -> pymysql.connections.Connection:
    """A root connection (autocommit unless told otherwise) to a local service."""
    params: dict[str, Any] = {"host": info.host, "port": info.port, "user": "root", "password": "",
                              "charset": "utf8mb4", "autocommit": True, "connect_timeout": 10}  # fmt: skip
    params.update(kwargs)
    return pymysql.connect(**params)


def _insert(
    conn: pymysql.connections.Connection, sql: str, rows: Iterable[tuple[Any, ...]], batch: int
) -> int:
    """executemany in batches (pymysql sends each batch as one multi-row INSERT); returns the row count."""
    done, chunk = 0, []
    with conn.cursor() as cur:
        for row in rows:
            chunk.append(row)
            if len(chunk) == batch:
                cur.executemany(sql, chunk)
                done, chunk = done + len(chunk), []
        if chunk:
            cur.executemany(sql, chunk)
            done += len(chunk)
    return done


SHOP_TABLES = {
    "customers": "id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, city VARCHAR(32), vip TINYINT NOT NULL, "
    "created_at DATETIME NOT NULL",
    "orders": "id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL, "
    "total DECIMAL(12,2) NOT NULL, note VARCHAR(100), created_at DATETIME(3) NOT NULL",
}
STOCK_TABLES = {
    "products": "id INT PRIMARY KEY, sku VARCHAR(20) NOT NULL UNIQUE, name VARCHAR(64) NOT NULL, "
    "price DECIMAL(10,2) NOT NULL, stock INT NOT NULL",
    "stock_moves": "id BIGINT AUTO_INCREMENT PRIMARY KEY, product_id INT NOT NULL, qty INT NOT NULL, "
    "reason VARCHAR(16) NOT NULL, moved_at DATETIME(6) NOT NULL",
}


def _create(conn: pymysql.connections.Connection, db: str, tables: dict[str, str]) -> None:
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        for table, columns in tables.items():
            cur.execute(f"CREATE TABLE {db}.{table} ({columns})")


def _customers(count: int, rnd: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        yield (
            i,
            f"customer {i}",
            rnd.choice(CITIES),
            int(i % 10 == 0),
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00",
        )


def _orders(count: int, customers: int, rnd: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        created = (
            f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 59:02d}.{i % 1000:03d}"
        )
        total = f"{rnd.randint(100, 999_999) / 100:.2f}"
        note = None if i % 3 else f"gift wrap #{i}"
        yield i, rnd.randint(1, customers), rnd.choice(STATUSES), total, note, created


def create_shop(conn: pymysql.connections.Connection, db: str, orders: int, customers: int) -> dict[str, int]:
    """seekdb: database `db` with `customers` and `orders` (the full synchronization's source); row counts."""
    rnd = random.Random(7)
    _create(conn, db, SHOP_TABLES)
    insert = f"INSERT INTO {db}.%s VALUES (%%s, %%s, %%s, %%s, %%s%s)"
    return {
        "customers": _insert(conn, insert % ("customers", ""), _customers(customers, rnd), 2000),
        "orders": _insert(conn, insert % ("orders", ", %s"), _orders(orders, customers, rnd), 5000),
    }


def create_stock(conn: pymysql.connections.Connection, db: str, products: int, moves: int) -> dict[str, int]:
    """MariaDB (ROW binlog): database `db` with `products` and `stock_moves`; row counts."""
    rnd = random.Random(11)
    _create(conn, db, STOCK_TABLES)
    product_rows = (
        (i, f"SKU-{i:06d}", f"product {i}", f"{rnd.randint(100, 50_000) / 100:.2f}", rnd.randint(0, 500))
        for i in range(1, products + 1)
    )
    move_rows = ((rnd.randint(1, products), rnd.randint(1, 20), "restock") for _ in range(moves))
    return {
        "products": _insert(
            conn, f"INSERT INTO {db}.products VALUES (%s, %s, %s, %s, %s)", product_rows, 2000
        ),
        "stock_moves": _insert(
            conn, f"INSERT INTO {db}.stock_moves {MOVE_COLUMNS} VALUES (%s, %s, %s, NOW(6))", move_rows, 2000
        ),  # fmt: skip
    }


@dataclass
class ChangeWriter:
    """A thread committing sales, price changes and deletes to the MariaDB tables until `stop_at` (epoch)."""

    info: ServiceInfo
    db: str
    products: int
    stop_at: float
    pause_s: float = 0.03
    counts: Counter[str] = field(default_factory=Counter)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-change-writer", daemon=True)

    def start(self) -> None:
        """Start writing."""
        self._thread.start()

    def join(self) -> None:
        """Wait for the writer to stop; raise what it raised."""
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        rnd = random.Random(5)
        try:
            conn = connect(self.info, autocommit=False)
            with conn, conn.cursor() as cur:
                while time.time() < self.stop_at:
                    self._transaction(cur, rnd)
                    conn.commit()
                    self.counts["transactions"] += 1
                    time.sleep(self.pause_s)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def _transaction(self, cur: Any, rnd: random.Random) -> None:
        """One transaction: a sale (INSERT + UPDATE), a price change (UPDATE) or a correction (DELETE)."""
        product = rnd.randint(1, self.products)
        kind = rnd.random()
        if kind < 0.6:
            qty = rnd.randint(1, 5)
            cur.execute(f"INSERT INTO {self.db}.stock_moves {MOVE_COLUMNS} VALUES (%s, %s, 'sale', NOW(6))",
                        (product, -qty))  # fmt: skip
            cur.execute(f"UPDATE {self.db}.products SET stock = stock - %s WHERE id = %s", (qty, product))
            self.counts["INSERT"] += 1
            self.counts["UPDATE"] += cur.rowcount
        elif kind < 0.85:
            cur.execute(f"UPDATE {self.db}.products SET price = price * 1.01 WHERE id = %s", (product,))
            self.counts["UPDATE"] += cur.rowcount
        else:
            cur.execute(
                f"DELETE FROM {self.db}.stock_moves WHERE product_id = %s ORDER BY id LIMIT 1", (product,)
            )
            self.counts["DELETE"] += cur.rowcount


@dataclass
class TopicReport:
    """What a read_committed consumer found in one topic."""

    topic: str
    messages: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    samples: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # type: (key, partition, value)
    replayed: dict[str, dict[Any, dict[str, Any]]] | None = None


def read_topic(kafka: KafkaHook, topic: str, *, replay: bool = False, timeout: float = 120.0) -> TopicReport:
    """
    Count a topic's committed messages by record type, keep one sample per type, and optionally replay them
    (ROW and INSERT set a row, UPDATE replaces it, DELETE removes it; per partition in offset order, which is
    per key in commit order) into the tables' final contents, by table and primary key value.
    """
    report = TopicReport(topic, replayed={} if replay else None)
    messages = kafka.iter_committed(topic, timeout=timeout, idle=5.0)
    for msg in sorted(messages, key=lambda m: (m.partition(), m.offset())) if replay else messages:
        value = json.loads(msg.value())
        kind = value.get("recordType", "?")
        report.messages += 1
        report.by_type[kind] += 1
        if kind not in report.samples:
            key = msg.key().decode("utf-8", "replace") if msg.key() is not None else ""
            report.samples[kind] = (key, msg.partition(), msg.value().decode("utf-8", "replace"))
        if report.replayed is not None:
            meta = value["allMetaData"]
            rows = report.replayed.setdefault(meta["table_name"], {})
            if kind == "DELETE":
                rows.pop(meta["record_primary_value"], None)
            else:
                rows[meta["record_primary_value"]] = value["postStruct"]
    return report


def table_matches(conn: pymysql.connections.Connection, db: str, table: str, columns: list[str],
                  replayed: dict[Any, dict[str, Any]]) -> tuple[bool, int]:  # fmt: skip
    """Whether the replayed rows equal the table's rows on `columns` (integers); and the table's row count."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM {db}.{table}")
        actual = {str(row[0]): tuple(int(v) for v in row) for row in cur.fetchall()}
    seen = {key: tuple(int(row[c]) for c in columns) for key, row in replayed.items()}
    return actual == seen, len(actual)


def projects(tag: str, shop_db: str, stock_db: str) -> dict[str, dict[str, Any]]:
    """The two demo projects (project-file form): full sync from seekdb; full + incremental from MariaDB."""
    shop = {
        "name": f"demo_shop_{tag}",
        "description": "Demo: a shop's orders and customers on seekdb (OceanBase kernel), full sync.",
        "tags": ["demo"],
        "sync_types": ["schema", "full"],
        "objects": [
            {"database": shop_db, "tables": ["orders"],
             "topic": {"mode": "new", "name": f"demo_{tag}.orders"}},
            {"database": shop_db, "tables": ["customers"], "topic": {"mode": "batch"}},
        ],
        "options": {"serialization": "Default", "partitioning": "Hash"},
    }  # fmt: skip
    stock = {
        "name": f"demo_stock_{tag}",
        "description": "Demo: products and stock moves on MariaDB, full then incremental from its binlog.",
        "tags": ["demo"],
        "source": {"conn_id": "mariadb_binlog"},
        "sync_types": ["schema", "full", "incremental"],
        "incremental": {"schedule": "* * * * *"},  # each run ends with its (one-minute) data interval
        "objects": [
            {"database": stock_db, "tables": ["products"],
             "topic": {"mode": "new", "name": f"demo_{tag}.products"}},
            {"database": stock_db, "tables": ["stock_moves"],
             "topic": {"mode": "new", "name": f"demo_{tag}.stock_moves"}, "shard_columns": ["product_id"]},
        ],
    }  # fmt: skip
    return {"shop": shop, "stock": stock}
