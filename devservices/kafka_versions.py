"""The Kafka brokers of the compatibility matrix (`make test-compat`): 2.8 on ZooKeeper, 3.9 and 4.1 on KRaft.

Each version runs from its own jars (fetched with Maven into ``~/.cache/obkafka/kafka-<version>``) and keeps
its own state folder (``<state root>/kafka-<version>``, ``zookeeper-<version>``), so the matrix never touches
the broker that `make test` and the other engineers use.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from devservices.base import HOST, ServiceError, port_answers
from devservices.kafka import KAFKA_VERSION, LOG4J2, KafkaService, fetch_kafka, jars_fetched, libs_dir
from devservices.service import Service

LEGACY_POM = Path(__file__).resolve().parent / "kafka-legacy-pom.xml"

#: The matrix: short name -> the release run. Kafka 2.x runs on ZooKeeper, later versions on KRaft.
VERSIONS: dict[str, str] = {"2.8": "2.8.2", "3.9": "3.9.1", "4.1": KAFKA_VERSION}
FIRST_KRAFT_ONLY_MAJOR = 3  # the matrix runs 3.x and later without ZooKeeper
MATRIX_START_TIMEOUT = 180.0  # formatting and starting a broker on a busy 2-core machine (4.1 took > 60 s)


def release(name: str) -> str:
    """Return the full release of a matrix version (``2.8`` -> ``2.8.2``); a full release passes through."""
    if name in VERSIONS:
        return VERSIONS[name]
    if name in VERSIONS.values():
        return name
    raise ServiceError(f"Kafka version {name!r} is not in the matrix; known: {', '.join(VERSIONS)}")


def uses_zookeeper(version: str) -> bool:
    """Return True when the matrix runs ``version`` on ZooKeeper."""
    return int(release(version).split(".")[0]) < FIRST_KRAFT_ONLY_MAJOR


def broker(name: str) -> KafkaService:
    """Return the broker service of a matrix version, in its own state folder ``kafka-<release>``."""
    version = release(name)
    if version == KAFKA_VERSION:
        service = KafkaService()
        service.name = f"kafka-{version}"  # not `make test`'s broker (folder `kafka`): the matrix wipes it
        service.start_timeout = MATRIX_START_TIMEOUT
        return service
    if uses_zookeeper(version):
        return ZkKafkaService(version)
    return LegacyKraftKafkaService(version)


def fetch_legacy(version: str) -> Path:
    """Fetch the jars of a Kafka before 4.0 (log4j 1 routed to log4j 2) unless already cached."""
    if jars_fetched(version):
        return libs_dir(version)
    return fetch_kafka(version=version, pom=LEGACY_POM)


class LegacyKraftKafkaService(KafkaService):
    """A KRaft Kafka 3.x: the 4.1 service on older jars (4.1-only settings are ignored with a warning)."""

    start_timeout = MATRIX_START_TIMEOUT

    def check_installed(self) -> None:
        """Fetch this version's jars, then check java."""
        fetch_legacy(self.version)
        super().check_installed()


class ZooKeeperService(Service):
    """The standalone ZooKeeper shipped with a Kafka 2.x, for that broker alone."""

    port_names = ("port",)
    start_timeout = 60.0

    def __init__(self, version: str) -> None:
        self.version = version
        self.name = f"zookeeper-{version}"

    @property
    def config_path(self) -> Path:
        """Return the generated ``zoo.cfg``."""
        return self.dir / "zoo.cfg"

    def check_installed(self) -> None:
        """Require java and the jars (ZooKeeper's server comes with the broker's)."""
        if shutil.which("java") is None:
            raise ServiceError("java not found: run `make system-deps` (scripts/install-system-deps.sh)")
        fetch_legacy(self.version)

    def prepare(self, ports: dict[str, int]) -> None:
        """Write ``zoo.cfg`` (loopback only, no admin server) and the logging configuration."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"dataDir={self.data_dir}",
            f"clientPort={ports['port']}",
            f"clientPortAddress={HOST}",
            "tickTime=2000",
            "maxClientCnxns=0",
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr",
            "",
        ]
        self.config_path.write_text("\n".join(lines))
        (self.dir / "log4j2.properties").write_text(LOG4J2.format(log_file=self.dir / "zookeeper.log"))

    def command(self, ports: dict[str, int]) -> list[str]:
        """Return the ZooKeeper server command line."""
        return [
            "java",
            "-Xms64m",
            "-Xmx256m",
            "-Djava.awt.headless=true",
            "-Dzookeeper.jmx.log4j.disable=true",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            "-cp",
            f"{libs_dir(self.version)}/*",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.config_path),
        ]

    def probe(self, ports: dict[str, int]) -> bool:
        """Return True when ZooKeeper answers the ``srvr`` four-letter command."""
        if not port_answers(ports["port"]):
            return False
        with socket.create_connection((HOST, ports["port"]), timeout=2) as sock:
            sock.sendall(b"srvr")
            return sock.recv(4096).startswith(b"Zookeeper version")

    def log_files(self) -> list[Path]:
        """Return the stdout log and the ZooKeeper log."""
        return [self.log_path, self.dir / "zookeeper.log"]


class ZkKafkaService(KafkaService):
    """A Kafka 2.x broker on its own ZooKeeper (started with it, stopped with it)."""

    port_names = ("port",)
    start_timeout = MATRIX_START_TIMEOUT

    def __init__(self, version: str) -> None:
        super().__init__(version)
        self.zookeeper = ZooKeeperService(version)

    def check_installed(self) -> None:
        """Fetch this version's jars, then check java."""
        fetch_legacy(self.version)
        super().check_installed()

    def zk_properties(self, port: int, zk_port: int) -> str:
        """Return the broker configuration: one broker, transactions with replication factor 1."""
        return "\n".join(
            [
                "broker.id=1",
                f"zookeeper.connect={HOST}:{zk_port}",
                "zookeeper.connection.timeout.ms=30000",
                f"listeners=PLAINTEXT://{HOST}:{port}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{port}",
                f"log.dirs={self.data_dir}",
                "num.partitions=1",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=10",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=24",
                "",
            ]
        )

    def prepare(self, ports: dict[str, int]) -> None:
        """Start this broker's ZooKeeper, then write the configuration (ZooKeeper mode needs no format)."""
        zk = self.zookeeper.ensure_running()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.zk_properties(ports["port"], zk.port))
        (self.dir / "log4j2.properties").write_text(LOG4J2.format(log_file=self.server_log))

    def stop(self) -> bool:
        """Stop the broker, then its ZooKeeper."""
        stopped = super().stop()
        self.zookeeper.stop()
        return stopped

    def log_files(self) -> list[Path]:
        """Return the broker's logs, then ZooKeeper's."""
        return [*super().log_files(), *self.zookeeper.log_files()]
