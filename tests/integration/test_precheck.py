"""PrecheckSensor against the real services: each check failing and passing, with the report text checked."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pymysql
import pytest
from airflow.sdk.exceptions import AirflowFailException
from confluent_kafka.admin import ConfigResource

from airflow_provider_obkafka.engine.precheck.report import Check, Report, Status
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.models.topic import TopicSpec
from airflow_provider_obkafka.sensors.precheck import XCOM_KEY, PrecheckSensor, run_precheck
from devservices.base import free_port
from devservices.mariadb import MariadbService
from tests.integration.dag_files import _write_and_load

MARIADB = {"conn_id": "mariadb_binlog"}


def _project(
    name: str, db: str, tables: list[str], *, sync=("schema", "incremental"), source=MARIADB, **entry
):
    topic = entry.pop("topic", {"mode": "new", "name": f"{name}.t"})
    objects = [{"database": db, "tables": tables, "topic": topic, **entry}]
    return {"name": name, "sync_types": list(sync), "source": source, "objects": objects}


def _only(report: Report, check: Check) -> list[Any]:
    return [f for f in report.findings if f.check is check]


def _status(report: Report, check: Check) -> set[Status]:
    return {f.status for f in _only(report, check)}


def _conn(monkeypatch, conn_id: str, conn_type: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, **fields}))


class FakeTI:
    """The piece of a task instance `poke()` uses: XCom pushes, recorded."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def shop(airflow_conn_env, mariadb_database):
    """A MariaDB database with a keyed table, a table without key, and a view."""
    db, conn = mariadb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.orders (id INT PRIMARY KEY, customer INT, total DECIMAL(8,2))")
        cur.execute(f"CREATE TABLE {db}.events (at DATETIME, what VARCHAR(20))")
        cur.execute(f"CREATE VIEW {db}.order_view AS SELECT id, total FROM {db}.orders")
    return db, conn


@pytest.mark.compat
def test_passing_project_through_poke_reports_every_check_and_pushes_xcom(shop):
    db, _ = shop
    sensor = PrecheckSensor(task_id="precheck", project=_project(db, db, ["orders", "events"]))
    assert (sensor.mode, sensor.poke_interval, sensor.timeout) == ("reschedule", 30.0, 900.0)
    ti = FakeTI()
    done = sensor.poke({"ti": ti})
    assert done.is_done
    data = ti.xcom[XCOM_KEY]
    assert done.xcom_value == data
    assert json.loads(json.dumps(data)) == data
    assert data["passed"] is True
    assert data["project"] == db
    checks = {f["check"]: f["status"] for f in data["findings"]}
    passed = ("Source Node connection", "Source Node privileges", "Binlog Service",
              "Binlog Service privileges",
              "Physical tables", "Destination Node connection", "Kafka version", "New Topic")  # fmt: skip
    assert {check: checks[check] for check in passed} == dict.fromkeys(passed, "OK")
    assert checks["Tables without primary key"] == "WARN"  # a warning, not a failure
    events = next(f for f in data["findings"] if f["check"] == "Tables without primary key")
    assert f"table {db}.events has no primary key" in events["found"]


def _broker_max_timeout_ms() -> int:
    """The local broker's transaction.max.timeout.ms, read here with the admin client directly."""
    hook = KafkaHook()
    broker = hook.probe().brokers[0].id
    resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    admin = hook.admin_client()  # alive until the future is resolved
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    return int(entries["transaction.max.timeout.ms"].value)


def test_transaction_timeout_is_compared_with_the_brokers_maximum(shop):
    db, _ = shop
    limit = _broker_max_timeout_ms()
    (fine,) = _only(run_precheck(_project(db, db, ["orders"])), Check.TRANSACTION_TIMEOUT)
    assert fine.status is Status.OK
    assert "transaction.timeout.ms 900000 (options.transaction_timeout_ms) is within broker" in fine.found
    assert f"transaction.max.timeout.ms {limit}" in fine.found

    above = {**_project(db, db, ["orders"]), "options": {"transaction_timeout_ms": limit + 1}}
    report = run_precheck(above)
    (finding,) = _only(report, Check.TRANSACTION_TIMEOUT)
    assert finding.status is Status.FAIL and not report.passed
    assert f"transaction.timeout.ms {limit + 1}" in finding.found
    assert f"transaction.max.timeout.ms {limit}" in finding.found
    assert f"set options.transaction_timeout_ms to {limit} or less" in finding.fix


def test_resume_by_gtid_finds_the_executed_gtid_set(shop):
    """MariaDB always reports its GTID position: resume_by gtid passes, and says so."""
    db, _ = shop
    project = {**_project(db, db, ["orders"]), "incremental": {"resume_by": "gtid"}}
    found = [f for f in _only(run_precheck(project), Check.BINLOG) if "GTID" in f.found]
    assert [(f.status, "reports an executed GTID set" in f.found) for f in found] == [(Status.OK, True)]
    plain = [f for f in _only(run_precheck(_project(db, db, ["orders"])), Check.BINLOG) if "GTID" in f.found]
    assert plain == [], "resume by position asks nothing about GTIDs"


def test_source_kind_is_named_oceanbase_or_mysql_compatible(shop, seekdb_database):
    seek_db, conn = seekdb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {seek_db}.t (id INT PRIMARY KEY)")
    on_seekdb = run_precheck(_project(seek_db, seek_db, ["t"], sync=("schema",), source={}))
    (finding,) = _only(on_seekdb, Check.SOURCE)
    assert finding.status is Status.OK
    assert "OceanBase answers at" in finding.found
    assert _only(on_seekdb, Check.SNAPSHOT) == [], "schema sync alone reads no snapshot"
    with_full = run_precheck(_project(seek_db, seek_db, ["t"], sync=("schema", "full"), source={}))
    (snapshot,) = _only(with_full, Check.SNAPSHOT)
    assert snapshot.status is Status.OK
    assert "undo_retention is 1800 s" in snapshot.found, "seekdb's default, as OceanBase's"
    db, _ = shop
    on_mariadb = run_precheck(_project(db, db, ["orders"], sync=("schema",)))
    assert "a MySQL-compatible server, not OceanBase" in _only(on_mariadb, Check.SOURCE)[0].found
    assert "MariaDB" in _only(on_mariadb, Check.SOURCE)[0].found


def test_unreachable_source_is_poked_again_not_failed(shop, monkeypatch):
    db, _ = shop
    _conn(monkeypatch, "down_source", "oceanbase", host="127.0.0.1", port=free_port(), login="root")
    sensor = PrecheckSensor(
        task_id="p", project=_project(db, db, ["orders"], source={"conn_id": "down_source"})
    )
    ti = FakeTI()
    assert sensor.poke({"ti": ti}) is False
    report = ti.xcom[XCOM_KEY]
    assert report["passed"] is False
    assert report["retryable"] is True
    (down,) = [f for f in report["findings"] if f["status"] == "FAIL"]
    assert down["check"] == "Source Node connection"
    assert "is not reachable: (2003)" in down["found"]


def test_unreachable_kafka_is_poked_again_not_failed(shop, monkeypatch):
    db, _ = shop
    _conn(monkeypatch, "down_kafka", "kafka", extra={"bootstrap.servers": f"127.0.0.1:{free_port()}"})
    project = {**_project(db, db, ["orders"]), "destination": {"conn_id": "down_kafka"}}
    sensor = PrecheckSensor(task_id="p", project=project, kafka_timeout=2.0)
    ti = FakeTI()
    assert sensor.poke({"ti": ti}) is False
    (down,) = [f for f in ti.xcom[XCOM_KEY]["findings"] if f["status"] == "FAIL"]
    assert down["check"] == "Destination Node connection"
    # Python's future timeout or librdkafka's own (_TIMED_OUT, first under load): both are "not reachable"
    assert "is not reachable: " in down["found"], down["found"]
    assert down["retryable"] is True


def test_unreachable_kafka_logs_one_record_per_poke_naming_the_broker_and_the_wait(
    shop, monkeypatch, capfd, caplog
):
    """librdkafka retries a closed port every ~50 ms: none of its "Connection refused" lines reach the log
    (about 190 a poke did, on stderr); one record names the broker, the refusal and the wait."""
    db, _ = shop
    bootstrap = f"127.0.0.1:{free_port()}"
    _conn(monkeypatch, "down_kafka", "kafka", extra={"bootstrap.servers": bootstrap})
    project = {**_project(db, db, ["orders"]), "destination": {"conn_id": "down_kafka"}}
    sensor = PrecheckSensor(task_id="p", project=project, kafka_timeout=3.0, poke_interval=45)
    ti = FakeTI()
    capfd.readouterr()
    with caplog.at_level("DEBUG"):
        assert sensor.poke({"ti": ti}) is False
    captured = capfd.readouterr()  # the sensor's log: Airflow's structlog writes it to stdout
    librdkafka = "\n".join(r.getMessage() for r in caplog.records if "rdkafka" in r.name)
    logged = captured.out + captured.err + librdkafka
    assert "rdkafka" not in logged, logged[:3000]
    assert logged.count("Connection refused") <= 1, logged[:3000]  # the report's row (may wrap in the table)
    assert logged.count("checking again in 45 s") == 1, logged[-3000:]
    (down,) = [f for f in ti.xcom[XCOM_KEY]["findings"] if f["status"] == "FAIL"]
    assert f"Kafka at {bootstrap} does not answer within 3 s: Connect to ipv4#{bootstrap} failed: " \
           "Connection refused (" in down["found"], down["found"]  # fmt: skip
    assert "connection attempts failed)" in down["found"], down["found"]


def test_kafka_misconfiguration_is_logged_once_and_named_in_the_finding(shop, monkeypatch, capfd, caplog):
    """A real error (TLS to a plaintext listener) stays visible: one ERROR record, and the finding says it."""
    db, _ = shop
    bootstrap = KafkaHook().client_config()["bootstrap.servers"]
    extra = {"bootstrap.servers": bootstrap, "security.protocol": "SSL"}
    _conn(monkeypatch, "tls_to_plain", "kafka", extra=extra)
    project = {**_project(db, db, ["orders"]), "destination": {"conn_id": "tls_to_plain"}}
    ti = FakeTI()
    capfd.readouterr()
    with caplog.at_level("DEBUG"):
        assert PrecheckSensor(task_id="p", project=project, kafka_timeout=3.0).poke({"ti": ti}) is False
    assert "rdkafka" not in capfd.readouterr().err  # librdkafka's own stderr printing is off
    lines = [r for r in caplog.records if r.name == "airflow_provider_obkafka.librdkafka"]
    handshake = [r for r in lines if "SSL handshake failed" in r.getMessage()]
    assert len(handshake) == 1, [r.getMessage() for r in lines]  # repeated every ~50 ms: logged once
    assert handshake[0].levelname == "ERROR"
    assert len(lines) < 5, [r.getMessage() for r in lines]
    (down,) = [f for f in ti.xcom[XCOM_KEY]["findings"] if f["status"] == "FAIL"]
    assert "SSL handshake failed" in down["found"], down["found"]


def test_select_only_user_lacks_replication_and_other_databases(shop, unique_name, monkeypatch):
    db, conn = shop
    user = unique_name("pc_user")
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
        cur.execute(f"GRANT SELECT ON `{db}`.* TO '{user}'@'%'")
    try:
        _conn(
            monkeypatch, "select_only", "oceanbase", host=conn.host, port=conn.port, login=user, password="pw"
        )
        report = run_precheck(_project(db, db, ["orders"], source={"conn_id": "select_only"}))
        (lacking,) = _only(report, Check.BINLOG_PRIVILEGES)
        assert lacking.status is Status.FAIL
        assert f"{user}@% lacks REPLICATION SLAVE and REPLICATION CLIENT" in lacking.found
        assert lacking.fix.startswith(f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {user}@%")
        assert _status(report, Check.PRIVILEGES) == {Status.OK}
        assert "PASSWORD" not in json.dumps(report.to_dict()).upper()  # SHOW GRANTS' password hash is cut off
        with conn.cursor() as cur:
            cur.execute(f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{user}'@'%'")
        assert _status(run_precheck(_project(db, db, ["orders"], source={"conn_id": "select_only"})),
                       Check.BINLOG_PRIVILEGES) == {Status.OK}  # fmt: skip
        other = run_precheck(_project(db, "mysql", ["db"], source={"conn_id": "select_only"}))
        assert _only(other, Check.PRIVILEGES)[0].found == f"{user}@% lacks SELECT on mysql.db"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")


def test_view_missing_shard_column_and_unknown_columns_fail_at_once(shop):
    db, _ = shop
    sensor = PrecheckSensor(
        task_id="p", project=_project(db, db, ["orders", "order_view"], shard_columns=["region"])
    )
    ti = FakeTI()
    with pytest.raises(AirflowFailException) as failed:
        sensor.poke({"ti": ti})
    text = str(failed.value)
    assert text.startswith(f"precheck of project {db!r} failed:")
    assert "| FAIL   | Physical tables" in text
    assert "| FAIL   | Shard Columns" in text
    assert text.count("precheck of project") == 1
    report = ti.xcom[XCOM_KEY]
    assert report["retryable"] is False
    view = next(f for f in report["findings"] if "order_view" in f["found"])
    assert (
        view["found"] == f"objects[0].tables: {db}.order_view is a view, not a physical table: only physical "
        "tables can be synchronized; map its base tables instead"
    )
    assert view["fix"].startswith("only physical tables can be synchronized (OMS limit)")
    passing = run_precheck(
        _project(db, db, ["orders"], shard_columns=["customer"], columns=["id", "customer"])
    )
    assert _status(passing, Check.TABLES) == _status(passing, Check.SHARD_COLUMNS) == {Status.OK}
    assert _status(passing, Check.COLUMNS) == {Status.OK}
    unknown = run_precheck(_project(db, db, ["orders"], columns=["id", "nope"]))
    assert f"table {db}.orders has no column 'nope'" in _only(unknown, Check.COLUMNS)[0].found


def test_existing_topic_missing_then_present(shop, unique_name):
    db, _ = shop
    topic = unique_name("pc_existing")
    project = _project(db, db, ["orders"], sync=("incremental",), topic={"mode": "existing", "name": topic})
    (missing,) = _only(run_precheck(project), Check.EXISTING_TOPICS)
    assert missing.status is Status.FAIL
    assert missing.found == f"topic {topic!r} (mode existing) does not exist in Kafka"
    KafkaHook().create_topics([TopicSpec(topic, 1, 1)])
    (there,) = _only(run_precheck(project), Check.EXISTING_TOPICS)
    assert there.status is Status.OK
    assert there.found == f"topic {topic!r} exists (1 partition(s), replication factor 1)"


def test_invalid_topic_names_and_colliding_topics(shop, unique_name):
    db, conn = shop
    long_table = "t" * 60
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.{long_table} (id INT PRIMARY KEY)")
    batch = run_precheck(_project(db, db, ["t*"], sync=("schema",), topic={"mode": "batch"}))
    (bad,) = [f for f in _only(batch, Check.NEW_TOPICS) if f.status is Status.FAIL]
    assert f"the generated name 'Topic_{db}_{long_table}' is not a valid Kafka topic name" in bad.found
    invalid = run_precheck(_project(db, db, ["orders"], topic={"mode": "new", "name": "a b"}))
    (named,) = _only(invalid, Check.NAMES)
    assert named.status is Status.FAIL
    assert named.found == "objects[0].topic.name: 'a b'"
    assert "3 to 64 characters" in named.fix
    assert _status(invalid, Check.SOURCE) == _status(invalid, Check.DESTINATION) == {Status.OK}
    taken = unique_name("pc_taken")
    KafkaHook().create_topics([TopicSpec(taken, 1, 1)])
    clash = run_precheck(_project(db, db, ["orders"], topic={"mode": "new", "name": taken.replace("_", ".")}))
    (collides,) = [f for f in _only(clash, Check.NEW_TOPICS) if f.status is Status.FAIL]
    assert f"collides with {taken}" in collides.found


@pytest.fixture(scope="module")
def private_mariadb(tmp_path_factory):
    """A MariaDB of this module only, whose GLOBAL binlog settings tests may change; stopped at the end."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OBKAFKA_STATE_DIR", str(tmp_path_factory.mktemp("private-services")))
        service = MariadbService()
        info = service.ensure_running()
        try:
            yield info
        finally:
            service.stop()


@pytest.fixture
def private_db(private_mariadb, airflow_conn_env, monkeypatch, unique_name):
    _conn(monkeypatch, "private_mariadb", "oceanbase", host=private_mariadb.host, port=private_mariadb.port,
          login="root")  # fmt: skip
    conn = pymysql.connect(host=private_mariadb.host, port=private_mariadb.port, user="root", autocommit=True)
    db = unique_name("db")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)")
    yield db, conn
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {db}")
    conn.close()


def test_binlog_row_image_minimal_and_statement_format_are_detected(private_db):
    db, conn = private_db
    project = _project(db, db, ["t"], source={"conn_id": "private_mariadb"})
    with conn.cursor() as cur:
        cur.execute("SET GLOBAL binlog_row_image = 'MINIMAL'")
        cur.execute("SET GLOBAL binlog_format = 'STATEMENT'")
    try:
        report = run_precheck(project)
    finally:
        with conn.cursor() as cur:
            cur.execute("SET GLOBAL binlog_row_image = 'FULL'")
            cur.execute("SET GLOBAL binlog_format = 'ROW'")
    found = sorted(f.found for f in _only(report, Check.BINLOG) if f.status is Status.FAIL)
    endpoint = f"{conn.host}:{conn.port}"
    assert found == [f"{endpoint} has GLOBAL binlog_format=STATEMENT, not ROW",
                     f"{endpoint} has GLOBAL binlog_row_image=MINIMAL, not FULL"]  # fmt: skip
    assert not report.retryable
    (fine,) = _only(run_precheck(project), Check.BINLOG)
    assert fine.status is Status.OK
    assert "binlog_format=ROW, binlog_row_image=FULL" in fine.found


def test_no_binlog_service_on_seekdb_fails(airflow_conn_env, seekdb_database):
    db, conn = seekdb_database
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    report = run_precheck(_project(db, db, ["t"], source={}))
    (no_log,) = [f for f in _only(report, Check.BINLOG) if f.status is Status.FAIL]
    assert "SHOW MASTER STATUS failed" in no_log.found
    assert "CREATE BINLOG FOR TENANT" in no_log.fix
    assert not report.retryable


def test_start_timestamp_within_and_beyond_the_logs_reach(private_db):
    db, conn = private_db
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {db}.t VALUES (1, 1)")
    time.sleep(1.1)  # binlog header times are whole seconds: the start falls after the log's first second
    start = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {db}.t VALUES (2, 2)")
    base = _project(db, db, ["t"], source={"conn_id": "private_mariadb"})
    within = run_precheck({**base, "incremental": {"start_timestamp": start.isoformat()}})
    (ok_start,) = _only(within, Check.START_TIMESTAMP)
    assert ok_start.status is Status.OK
    assert "is within the change log, which reaches back to" in ok_start.found
    assert "reading starts at binlog." in ok_start.found
    old = run_precheck({**base, "incremental": {"start_timestamp": "2001-01-01T00:00:00Z"}})
    (too_old,) = _only(old, Check.START_TIMESTAMP)
    assert too_old.status is Status.FAIL
    assert (
        "start 2001-01-01T00:00:00+00:00 is before the earliest event still in the change log"
        in too_old.found
    )


def test_dag_test_runs_the_sensor(shop, airflow_db):
    db, _ = shop
    text = f"""
import pendulum
from airflow.sdk import DAG
from airflow_provider_obkafka.sensors.precheck import PrecheckSensor

with DAG(dag_id="precheck_{db}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    PrecheckSensor(task_id="good", project={_project(db, db, ["orders"])!r})
    PrecheckSensor(task_id="bad", project={_project(db, db, ["order_view"])!r}, retries=3)
"""
    dag = _write_and_load(airflow_db, f"precheck_{db}", text)
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"good": "success", "bad": "failed"}  # failed at once, not retried or rescheduled


def test_largest_possible_row_is_compared_with_the_message_size_limits(shop):
    """A table whose row can outgrow one Kafka message is a WARN naming it, its size and every limit."""
    db, conn = shop
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {db}.files (id INT PRIMARY KEY, name VARCHAR(100), body LONGBLOB)")
    report = run_precheck(_project(db, db, ["orders", "files"]))
    findings = {f.found.split(":")[0]: f for f in _only(report, Check.ROW_SIZE)}
    small = findings[f"{db}.orders"]
    assert small.status is Status.OK, small
    big = findings[f"{db}.files"]
    assert big.status is Status.WARN, big
    # id 11 + name 400 (utf8mb4) + body 4294967295 bytes; an UPDATE carries the row twice
    assert "largest possible row 4294967706 bytes" in big.found
    for limit in ("the producer's message.max.bytes 1000000", "broker", f"topic {db}.t's max.message.bytes"):
        assert limit in big.found, big.found
    assert "objects[].columns" in big.fix and "max.message.bytes" in big.fix
