"""
The security profiles of the local Kafka broker: how clients reach its client listener, with the certificates
and SCRAM users the profile needs, and optionally the KRaft authorizer.

| profile     | client listener                                      |
|-------------|------------------------------------------------------|
| `plaintext` | PLAINTEXT (the default, as before)                   |
| `sasl_ssl`  | SASL_SSL, SCRAM-SHA-512 users created at format time |
| `mtls`      | SSL with `ssl.client.auth=required` (mutual TLS)     |

A secured broker also listens on an INTERNAL PLAINTEXT listener (inter-broker traffic, loopback only) whose
ANONYMOUS principal is a super user, as the CONTROLLER listener's is: with the authorizer on, only the client
listener is subject to ACLs. For tests only: never expose such a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devservices.base import HOST, ServiceError

PROFILES = ("plaintext", "sasl_ssl", "mtls")
ADMIN = "admin"  # the super user the service itself (and a test's ACL set-up) connects as
MECHANISM = "SCRAM-SHA-512"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@dataclass(frozen=True)
class KafkaSecurity:
    """
    How the broker secures its client listener.

    :param profile: one of `PROFILES`
    :param users: user name -> password (SCRAM users for `sasl_ssl`, client certificates named CN=<user> for
        `mtls`); the `admin` super user is always added
    :param authorizer: enable the StandardAuthorizer (no ACL: no access, except for super users)
    """

    profile: str = "plaintext"
    users: dict[str, str] = field(default_factory=dict)
    authorizer: bool = False

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ServiceError(f"unknown Kafka profile {self.profile!r}; known: {', '.join(PROFILES)}")

    @property
    def secured(self) -> bool:
        """Whether the client listener is anything but PLAINTEXT."""
        return self.profile != "plaintext"

    def all_users(self, admin_password: str) -> dict[str, str]:
        """The users, the admin included."""
        return {**self.users, ADMIN: admin_password}

    def listener(self) -> str:
        """The client listener's name (also its security protocol)."""
        return {"plaintext": "PLAINTEXT", "sasl_ssl": "SASL_SSL", "mtls": "SSL"}[self.profile]

    def properties(self, ports: dict[str, int], pki: Path) -> list[str]:
        """The broker settings of the profile (listeners, TLS, SASL, authorizer)."""
        port, cport = ports["port"], ports["controller_port"]
        name = self.listener()
        if not self.secured:
            return [
                f"listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{port}",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        iport = ports["internal_port"]
        lines = [
            f"listeners={name}://{HOST}:{port},INTERNAL://{HOST}:{iport},CONTROLLER://{HOST}:{cport}",
            f"advertised.listeners={name}://{HOST}:{port},INTERNAL://{HOST}:{iport}",
            "inter.broker.listener.name=INTERNAL",
            f"listener.security.protocol.map={name}:{name},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={pki / 'broker-keystore.pem'}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={pki / 'kafka-ca.pem'}",
            "ssl.principal.mapping.rules=RULE:^CN=([^,]+).*$/$1/,DEFAULT",
        ]
        if self.profile == "sasl_ssl":
            lines += [
                f"sasl.enabled.mechanisms={MECHANISM}",
                f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            ]
        else:
            lines.append("ssl.client.auth=required")
        if self.authorizer:
            lines += [f"authorizer.class.name={AUTHORIZER}", f"super.users=User:ANONYMOUS;User:{ADMIN}"]
        return lines

    def format_args(self, admin_password: str) -> list[str]:
        """`kafka-storage format` arguments creating the SCRAM users (none unless `sasl_ssl`)."""
        if self.profile != "sasl_ssl":
            return []
        out = []
        for user, password in sorted(self.all_users(admin_password).items()):
            out.append(f"--add-scram={MECHANISM}=[name={user},password={password}]")
        return out

    def write_certificates(self, pki: Path, admin_password: str) -> None:
        """The broker's CA, certificate and key, and one client certificate per user (CN=<user>)."""
        if not self.secured or (pki / "kafka-ca.pem").exists():
            return
        from devservices.certs import Authority

        authority = Authority(pki, "kafka")
        broker = authority.issue("broker", "broker", hosts=(HOST, "localhost"))
        keystore = pki / "broker-keystore.pem"
        keystore.write_bytes(broker.key.read_bytes() + broker.cert.read_bytes())
        keystore.chmod(0o600)
        for user in self.all_users(admin_password):
            authority.issue(f"client-{user}", user, client=True)

    def client_config(self, ports: dict[str, int], pki: Path, user: str, password: str) -> dict[str, Any]:
        """The librdkafka configuration of `user` for the client listener."""
        config: dict[str, Any] = {"bootstrap.servers": f"{HOST}:{ports['port']}"}
        if not self.secured:
            return config
        config.update({"security.protocol": self.listener(), "ssl.ca.location": str(pki / "kafka-ca.pem")})
        if self.profile == "sasl_ssl":
            config.update({"sasl.mechanism": MECHANISM, "sasl.username": user, "sasl.password": password})
        else:
            config.update({
                "ssl.certificate.location": str(pki / f"client-{user}.pem"),
                "ssl.key.location": str(pki / f"client-{user}.key"),
            })  # fmt: skip
        return config
