"""KafkaHook: admin, producers and a verifying consumer on the official `kafka` connection type."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from airflow_provider_obkafka.exceptions import CapabilityError, TopicError
from airflow_provider_obkafka.hooks.kafka_info import BrokerInfo, ClusterInfo, TopicInfo, topic_differences
from airflow_provider_obkafka.hooks.kafka_log import ClientLog
from airflow_provider_obkafka.hooks.kafka_read import drain_to_ends, partitions_of, watermarks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_obkafka.models.topic import TopicSpec

# librdkafka's own errors for a cluster it cannot reach (yet): which of them, or Python's future timeout,
# comes first depends on the load, and all mean the same.
_UNREACHABLE = frozenset((KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN))


class KafkaHook(KafkaBaseHook):
    """
    Kafka for synchronization: cluster probe, topics, idempotent and transactional producers, and a
    `read_committed` consumer for verification. Uses the `kafka` connection type of the official
    Apache Kafka provider; its JSON extra is the librdkafka configuration.

    :param kafka_config_id: id of an Airflow connection of type `kafka`
    """

    def __init__(self, kafka_config_id: str = KafkaBaseHook.default_conn_name) -> None:
        super().__init__(kafka_config_id=kafka_config_id)  # type: ignore[no-untyped-call]  # unannotated upstream

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """A fresh librdkafka configuration from the connection, with `overrides` applied."""
        config = dict(self._build_config())
        config.update(overrides)
        return config

    def admin_client(self) -> AdminClient:
        """A new AdminClient for the connection's cluster."""
        return AdminClient(self.client_config())

    def probe(self, timeout: float = 10.0) -> ClusterInfo:
        """Brokers, controller and the version a broker's configuration states, with the connection's full
        configuration (TLS, client certificates, SASL), as every other client of the sync connects."""
        client_log = ClientLog()  # a broker that is down: one line in the finding, not ~190 on stderr
        config = self.client_config()
        if "logger" not in config and "log_cb" not in config:
            config["logger"] = client_log
        admin = AdminClient(config)
        try:
            description = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout)
        except (KafkaException, TimeoutError) as exc:
            admin.poll(0)  # serves the client's log lines to client_log
            raise self._unanswered(exc, client_log, timeout) from exc
        admin.poll(0)
        brokers = sorted(BrokerInfo(n.id, n.host, n.port) for n in description.nodes)
        controller = description.controller.id if description.controller else -1
        version, error = self._protocol_version(admin, brokers, timeout)
        return ClusterInfo(description.cluster_id, controller, brokers, version, error)

    def _unanswered(self, exc: BaseException, client_log: ClientLog, timeout: float) -> Exception:
        """Why the probe got no answer: a TimeoutError (worth a retry) naming the broker and the first
        failure librdkafka logged, or a CapabilityError for a refusal no retry clears."""
        error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        if isinstance(error, KafkaError) and error.code() not in _UNREACHABLE:
            return CapabilityError(f"Kafka at {self._bootstrap()} does not answer: {exc}")
        return TimeoutError(
            f"Kafka at {self._bootstrap()} does not answer within {timeout:g} s: {client_log.summary()}"
        )

    def _bootstrap(self) -> str:
        return str(self.client_config().get("bootstrap.servers"))

    @staticmethod
    def _protocol_version(
        admin: AdminClient, brokers: list[BrokerInfo], timeout: float
    ) -> tuple[str | None, str | None]:
        """A broker's `inter.broker.protocol.version` (DescribeConfigs), or why it could not be read."""
        if not brokers:
            return None, "the cluster named no broker"
        resource = ConfigResource(ConfigResource.Type.BROKER, str(brokers[0].id))
        try:
            entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout)
        except KafkaException as exc:
            return None, f"DescribeConfigs on broker {brokers[0].id} failed: {exc.args[0].str()}"
        entry = entries.get("inter.broker.protocol.version")
        return (str(entry.value) if entry is not None and entry.value else None), None

    def check_transactions(self, transactional_id: str, timeout: float = 30.0) -> None:
        """
        Prove what exactly-once needs: a transactional producer with `transactional_id` (a throwaway id of
        the project's prefix) runs `init_transactions()`, begins and aborts a transaction; nothing is written.

        :raises confluent_kafka.KafkaException: what the broker refused (authorization, no transactions, ...)
        """
        config = self.client_config(**{"transactional.id": transactional_id, "transaction.timeout.ms": 60000})
        config.setdefault("logger", ClientLog())  # a broker that is down: not ~20 lines a second on stderr
        producer = Producer(config)
        try:
            producer.init_transactions(timeout)
            producer.begin_transaction()
            producer.abort_transaction(timeout)
        finally:
            producer.flush(0)
            # the exception's traceback holds this frame for as long as a caller keeps it (a retry, a log):
            # the producer must not live on in it, still connecting and logging
            del producer

    def describe_topics(
        self, names: list[str] | None = None, config_keys: tuple[str, ...] = ()
    ) -> dict[str, TopicInfo]:
        """Topics by name (all non-internal topics when `names` is None) with partitions and RF."""
        admin = self.admin_client()
        metadata = admin.list_topics(timeout=30)
        wanted = set(names) if names is not None else {t for t in metadata.topics if not t.startswith("__")}
        result = {}
        for name in sorted(wanted & set(metadata.topics)):
            topic = metadata.topics[name]
            if topic.error is not None:
                continue
            replicas = min((len(p.replicas) for p in topic.partitions.values()), default=0)
            result[name] = TopicInfo(name, len(topic.partitions), replicas, {})
        if config_keys and result:
            result = self._with_configs(admin, result, config_keys)
        return result

    def _with_configs(
        self, admin: AdminClient, topics: dict[str, TopicInfo], keys: tuple[str, ...]
    ) -> dict[str, TopicInfo]:
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in topics]
        out = {}
        for resource, future in admin.describe_configs(resources).items():
            entries = future.result(timeout=30)
            configs = {k: str(entries[k].value) for k in keys if k in entries}
            out[resource.name] = topics[resource.name]._replace(configs=configs)
        return out

    def broker_configs(self, keys: tuple[str, ...], brokers: list[int]) -> dict[int, dict[str, str]]:
        """The values of broker configs `keys` (DescribeConfigs) of each broker id in `brokers`."""
        admin = self.admin_client()
        resources = [ConfigResource(ConfigResource.Type.BROKER, str(broker)) for broker in brokers]
        out = {}
        for resource, future in admin.describe_configs(resources).items():
            entries = future.result(timeout=30)
            out[int(resource.name)] = {k: str(entries[k].value) for k in keys if k in entries}
        return out

    def broker_count(self, timeout: float = 30.0) -> int:
        """How many brokers the cluster's metadata names."""
        return len(self.admin_client().list_topics(timeout=timeout).brokers)

    def set_topic_configs(self, name: str, configs: dict[str, str]) -> None:
        """Set configs of an existing topic (IncrementalAlterConfigs: the others are left as they are)."""
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()]
        admin = self.admin_client()  # keep the client alive until the future is resolved
        resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        for future in admin.incremental_alter_configs([resource]).values():
            try:
                future.result(timeout=30)
            except KafkaException as exc:
                raise TopicError(f"cannot set {sorted(configs)} of topic {name!r}: {exc.args[0].str()}") from exc

    def list_topics(self) -> list[str]:
        """Names of the cluster's non-internal topics, sorted."""
        return sorted(self.describe_topics())

    def create_topics(self, specs: list[TopicSpec]) -> dict[str, str]:
        """
        Create topics; idempotent. A topic that exists with the same partitions, replication factor and
        the given configs is fine (`exists`); one that differs is a TopicError naming every difference.
        Every topic is checked before any is created. Returns `created` or `exists` by name.
        """
        keys = tuple(sorted({k for spec in specs for k in spec.configs}))
        existing = self.describe_topics([s.name for s in specs], config_keys=keys)
        problems = [p for spec in specs if spec.name in existing for p in topic_differences(spec, existing[spec.name])]
        if problems:
            raise TopicError("existing topics are incompatible with the project:\n  - " + "\n  - ".join(problems))
        todo = [s for s in specs if s.name not in existing]
        outcome = {s.name: "exists" for s in specs if s.name in existing}
        if todo:
            outcome.update(self._create(todo))
        return outcome

    def _create(self, specs: list[TopicSpec]) -> dict[str, str]:
        new = [NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.configs)) for s in specs]
        outcome = {}
        admin = self.admin_client()  # keep the client alive until every future is resolved
        for name, future in admin.create_topics(new, operation_timeout=30).items():
            try:
                future.result(timeout=60)
                outcome[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TopicError(f"cannot create topic {name!r}: {exc.args[0].str()}") from exc
                outcome[name] = "exists"  # created concurrently by another run; checked on the next call
        return outcome

    def producer(self, transactional_id: str | None = None, **overrides: Any) -> Producer:
        """
        An idempotent producer (acks=all); transactional when `transactional_id` is given, with
        `init_transactions()` already done, so a previous instance's open transaction is fenced and aborted.
        """
        config = self.client_config(**{"enable.idempotence": True, "acks": "all"})
        if transactional_id:
            config["transactional.id"] = transactional_id
        config.update(overrides)
        producer = Producer(config)
        if transactional_id:
            producer.init_transactions(60)
        return producer

    def read_committed_consumer(self, group_id: str | None = None, **overrides: Any) -> Consumer:
        """A consumer that sees only committed transactional data, from the earliest offset, no auto-commit."""
        config = self.client_config(
            **{
                "group.id": group_id or f"obkafka-verify-{uuid.uuid4().hex[:12]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        config.update(overrides)
        return Consumer(config)

    def read_committed(self, topic: str, timeout: float = 600.0, idle: float = 30.0) -> list[Message]:
        """Every committed message of `topic` as a list (see `iter_committed`). For verification, tests and the demo."""
        return list(self.iter_committed(topic, timeout, idle))

    def iter_committed(self, topic: str, timeout: float = 600.0, idle: float = 30.0) -> Iterator[Message]:
        """
        Every committed message of `topic`, from the beginning of each partition to its end, as a
        `read_committed` consumer sees it, one at a time (memory stays flat on any topic size). The end of
        each partition is its last stable offset when the read begins (what is committed by then).

        :param timeout: seconds the whole read may take
        :param idle: seconds without progress that make the read a stall
        :raises IncompleteReadError: when a partition is not read to its end (a stall, or the timeout):
            never a part of the topic as if it were all of it. Retryable (`engine.pipeline.retry.transient`)
        """
        consumer = self.read_committed_consumer()
        try:
            parts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions_of(consumer, topic)]
            marks = {p.partition: watermarks(consumer, p) for p in parts}
            consumer.assign(parts)
            yield from drain_to_ends(consumer, topic, marks, timeout, idle)
        finally:
            consumer.close()
