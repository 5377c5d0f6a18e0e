"""Apache Kafka 4.1 as a single-node KRaft broker+controller, run from jars fetched with Maven.

``KafkaService(version)`` runs another KRaft version from its own jars; devservices/kafka_versions.py holds
what differs between versions (the compatibility matrix, `make test-compat`)."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from devservices.base import HOST, ServiceError, port_answers
from devservices.kafka_security import ADMIN, KafkaSecurity
from devservices.service import Service

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parent / "kafka-pom.xml"
FETCH_MARKER = ".fetch-complete"

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def cache_dir() -> Path:
    """Return the download cache (``$OBKAFKA_CACHE_DIR`` or ``~/.cache/obkafka``), outside the repo."""
    return Path(os.environ.get("OBKAFKA_CACHE_DIR") or "~/.cache/obkafka").expanduser().resolve()


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    """Return the folder holding the jars of Kafka ``version``."""
    return cache_dir() / f"kafka-{version}" / "libs"


def jars_fetched(version: str = KAFKA_VERSION) -> bool:
    """Return True when a previous fetch of ``version`` completed."""
    return (libs_dir(version) / FETCH_MARKER).exists()


def fetch_kafka(force: bool = False, version: str = KAFKA_VERSION, pom: Path = POM) -> Path:
    """Copy the jars of Kafka ``version`` and their runtime dependencies into the cache with Maven (``pom``,
    whose ``kafka.version`` property is set to ``version``); idempotent."""
    libs = libs_dir(version)
    if jars_fetched(version) and not force:
        log.info("Kafka %s jars already in %s", version, libs)
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("Maven (mvn) not found: run `make system-deps` (scripts/install-system-deps.sh)")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    log.info("fetching Kafka %s jars into %s", version, libs)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    jars = sorted(p.name for p in libs.glob("*.jar"))
    if proc.returncode != 0 or not any(j.startswith("kafka_2.13-") for j in jars):
        raise ServiceError(f"mvn failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (libs / FETCH_MARKER).write_text("\n".join(jars) + "\n")
    log.info("fetched %d jars in %.0f s", len(jars), time.monotonic() - t0)
    return libs


def new_cluster_id() -> str:
    """Return a KRaft cluster id: the 22-character base64url form of a random UUID."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaService(Service):
    """
    A single-node KRaft Kafka: the client listener on ``port`` (PLAINTEXT unless ``security`` says otherwise,
    see `devservices.kafka_security`), CONTROLLER on ``controller_port``.

    :param security: the client listener's profile, users and authorizer; None: PLAINTEXT, no authorizer
    """

    name = "kafka"
    port_names = ("port", "controller_port")
    start_timeout = 60.0

    def __init__(self, version: str = KAFKA_VERSION, *, security: KafkaSecurity | None = None) -> None:
        self.version = version
        if version != KAFKA_VERSION:  # another version (devservices/kafka_versions.py) keeps its own state
            self.name = f"kafka-{version}"
        self.security = security or KafkaSecurity()
        if self.security.secured:
            self.port_names = ("port", "controller_port", "internal_port")
            self.start_timeout = 180.0  # TLS set-up (and SCRAM) slows the first start on a busy machine

    @property
    def pki_dir(self) -> Path:
        """Return the folder of the broker's CA, certificates and keys (secured profiles)."""
        return self.dir / "pki"

    def admin_password(self) -> str:
        """Return the admin super user's password, made on first use and kept in the state folder."""
        path = self.dir / "admin.secret"
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(16))
            path.chmod(0o600)
        return path.read_text().strip()

    def client_config(self, user: str = ADMIN, ports: dict[str, int] | None = None) -> dict[str, Any]:
        """Return the librdkafka configuration with which ``user`` reaches the client listener."""
        ports = ports or self.state()["ports"]
        password = self.admin_password() if user == ADMIN else self.security.users.get(user, "")
        return self.security.client_config(ports, self.pki_dir, user, password)

    @property
    def config_path(self) -> Path:
        """Return the generated ``server.properties``."""
        return self.dir / "server.properties"

    @property
    def server_log(self) -> Path:
        """Return the broker's log4j log file."""
        return self.dir / "server.log"

    def check_installed(self) -> None:
        """Require java, and fetch the jars when they are not in the cache yet."""
        if shutil.which("java") is None:
            raise ServiceError("java not found: run `make system-deps` (scripts/install-system-deps.sh)")
        if not jars_fetched(self.version):
            fetch_kafka(version=self.version)

    def properties(self, ports: dict[str, int]) -> str:
        """Return the broker configuration for the given ports."""
        cport = ports["controller_port"]
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{HOST}:{cport}",
                *self.security.properties(ports, self.pki_dir),
                "controller.listener.names=CONTROLLER",
                f"log.dirs={self.data_dir}",
                "num.partitions=1",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=10",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=24",
                "",
            ]
        )

    def prepare(self, ports: dict[str, int]) -> None:
        """Write the configuration (and a secured profile's certificates); format the storage once."""
        self.security.write_certificates(self.pki_dir, self.admin_password())
        self.config_path.write_text(self.properties(ports))
        (self.dir / "log4j2.properties").write_text(LOG4J2.format(log_file=self.server_log))
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        cmd = [
            "java",
            "-cp",
            f"{libs_dir(self.version)}/*",
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",  # one token: a random id may start with '-', read as an option
            "-c",
            str(self.config_path),
            *self.security.format_args(self.admin_password()),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.dir)  # noqa: S603
        if proc.returncode != 0:
            raise ServiceError(f"Kafka storage format failed:\n{proc.stdout}\n{proc.stderr}")
        log.info("formatted Kafka storage in %s (cluster id %s)", self.data_dir, cluster_id)

    def command(self, ports: dict[str, int]) -> list[str]:
        """Return the broker command line."""
        return [
            "java",
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.dir}",
            "-cp",
            f"{libs_dir(self.version)}/*",
            "kafka.Kafka",
            str(self.config_path),
        ]

    def probe(self, ports: dict[str, int]) -> bool:
        """Return True when an AdminClient gets the cluster metadata with one broker."""
        if not port_answers(ports["port"]):
            return False
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({**self.client_config(ADMIN, ports), "log_level": 0})
        return len(admin.list_topics(timeout=5).brokers) == 1

    def log_files(self) -> list[Path]:
        """Return the stdout log and the broker log."""
        return [self.log_path, self.server_log]
