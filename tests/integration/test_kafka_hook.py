"""KafkaHook against the real broker (single-node KRaft from the official jars)."""

from __future__ import annotations

import gc
import re

import pytest
from confluent_kafka import KafkaException, Producer

from airflow_provider_obkafka.exceptions import TopicError
from airflow_provider_obkafka.hooks.kafka import KafkaHook
from airflow_provider_obkafka.hooks.kafka_checks import group_error
from airflow_provider_obkafka.models.topic import TopicSpec
from devservices.base import free_port


@pytest.fixture
def kafka_hook(airflow_conn_env) -> KafkaHook:
    return KafkaHook(kafka_config_id="kafka_default")


@pytest.mark.compat
def test_probe_reports_brokers_controller_and_version(kafka_hook, kafka_service):
    info = kafka_hook.probe()
    assert info.cluster_id
    assert len(info.brokers) == 1 and info.brokers[0].port == kafka_service.port
    assert info.controller_id == info.brokers[0].id
    assert info.version_error is None, "the broker configuration was read"
    # Kafka 4.x has no inter.broker.protocol.version; the matrix's 2.8 and 3.9 state theirs (e.g. "3.9-IV0")
    assert info.protocol_version is None or re.match(r"\d+\.\d+", info.protocol_version), info.protocol_version


@pytest.mark.compat
def test_check_transactions_initializes_begins_and_aborts(kafka_hook, unique_name):
    kafka_hook.check_transactions(unique_name("obkafka.check"), 30)


def test_a_refused_transaction_check_leaves_no_producer_behind(monkeypatch, capfd):
    """An exception kept for a retry or a log holds check_transactions' frame: its producer must not live on
    in it and log "Connection refused" to stderr for the rest of the process (it did, into other tests)."""
    monkeypatch.setenv("AIRFLOW_CONN_DOWN_KAFKA", f'{{"conn_type": "kafka", "extra": {{"bootstrap.servers": '
                       f'"127.0.0.1:{free_port()}"}}}}')  # fmt: skip
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, Producer)}  # other tests' clients, if any
    with pytest.raises(KafkaException) as refused:
        KafkaHook(kafka_config_id="down_kafka").check_transactions("obkafka.check.down", 1.0)
    gc.collect()
    left = [o for o in gc.get_objects() if isinstance(o, Producer) and id(o) not in before]
    assert refused.value and not left, "the check's producer lives on in the kept exception"
    assert "rdkafka" not in capfd.readouterr().err


def test_the_consumer_group_check_gets_the_brokers_answer(kafka_hook):
    """DescribeGroups is answered (None: allowed), not timed out: the admin client lives until it is."""
    assert group_error(kafka_hook, 10.0) is None


@pytest.mark.compat
def test_create_topics_is_idempotent(kafka_hook, unique_name):
    name = unique_name("topic")
    spec = TopicSpec(name, partitions=3, replication_factor=1, configs={"cleanup.policy": "compact"})
    assert kafka_hook.create_topics([spec]) == {name: "created"}
    assert kafka_hook.create_topics([spec]) == {name: "exists"}
    info = kafka_hook.describe_topics([name], config_keys=("cleanup.policy",))[name]
    assert (info.partitions, info.replication_factor, info.configs) == (3, 1, {"cleanup.policy": "compact"})
    assert name in kafka_hook.list_topics()


def test_incompatible_existing_topic_is_a_clear_error_and_nothing_is_created(kafka_hook, unique_name):
    taken, fresh = unique_name("topic"), unique_name("topic")
    kafka_hook.create_topics([TopicSpec(taken, partitions=1)])
    with pytest.raises(TopicError) as err:
        kafka_hook.create_topics([TopicSpec(fresh, partitions=3), TopicSpec(taken, partitions=3)])
    assert f"topic {taken!r} has 1 partitions, the project asks for 3" in str(err.value)
    assert fresh not in kafka_hook.describe_topics([fresh]), "checked before anything is created"


@pytest.mark.compat
def test_transactions_committed_seen_aborted_not(kafka_hook, unique_name):
    topic = unique_name("txn")
    kafka_hook.create_topics([TopicSpec(topic, partitions=3)])
    producer = kafka_hook.producer(transactional_id=unique_name("tid"))
    producer.begin_transaction()
    for i in range(10):
        producer.produce(topic, key=f"k{i}".encode(), value=f"committed-{i}".encode())
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, key=f"k{i}".encode(), value=f"aborted-{i}".encode())
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"k0", value=b"committed-last")
    producer.commit_transaction(30)

    values = sorted(m.value().decode() for m in kafka_hook.read_committed(topic, timeout=60))
    assert values == sorted([f"committed-{i}" for i in range(10)] + ["committed-last"])

    uncommitted = kafka_hook.read_committed_consumer(**{"isolation.level": "read_uncommitted"})
    uncommitted.subscribe([topic])
    seen = []
    for _ in range(40):
        seen += [m.value().decode() for m in uncommitted.consume(100, timeout=0.5) if m.error() is None]
        if len(seen) >= 16:
            break
    uncommitted.close()
    assert sum(v.startswith("aborted") for v in seen) == 5, "the aborted records are in the log, only hidden"


def test_idempotent_producer_delivers_outside_transactions(kafka_hook, unique_name):
    topic = unique_name("idem")
    kafka_hook.create_topics([TopicSpec(topic, partitions=1)])
    producer = kafka_hook.producer()
    reports = []
    for i in range(3):
        producer.produce(topic, value=str(i).encode(), on_delivery=lambda err, msg: reports.append(err))
    assert producer.flush(30) == 0
    assert reports == [None, None, None]
    assert [m.value() for m in kafka_hook.read_committed(topic, timeout=30)] == [b"0", b"1", b"2"]
