"""Typed, validated connection extras: a misspelled key fails loudly instead of being ignored."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.models.tls import TlsSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

_LOGIN_RE = re.compile(r"^(?P<user>[^@#]+)(?:@(?P<tenant>[^@#]+))?(?:#(?P<cluster>[^@#]+))?$")


class ObLogin(BaseModel):
    """
    An OceanBase login split into its parts; `user@tenant#cluster` is how ODP routes a session.

    :param user: the user name inside the tenant
    :param tenant: the tenant, when the login names one
    :param cluster: the cluster, when the login goes through ODP to one of several clusters
    """

    model_config = ConfigDict(frozen=True)

    user: str
    tenant: str | None = None
    cluster: str | None = None

    @classmethod
    def parse(cls, login: str) -> ObLogin:
        """Split `user`, `user@tenant` or `user@tenant#cluster`; anything else is a ConfigError."""
        match = _LOGIN_RE.match(login or "")
        if not match:
            raise ConfigError(
                f"connection login {login!r} is not a valid OceanBase login: use `user`, `user@tenant` "
                "(direct to an OBServer) or `user@tenant#cluster` (through ODP)"
            )
        return cls(**match.groupdict())


class ObConnExtras(BaseModel):
    """
    Extras of an `oceanbase` connection, each one a field in the Airflow connection form.

    :param binlog_host: host of the Binlog Service endpoint (ODP or obbinlog); default: the connection's host
    :param binlog_port: port of the Binlog Service endpoint; default: the connection's port
    :param charset: client character set of the session
    :param ssl: connect with TLS
    :param ssl_ca: path of the CA certificate file that signs the server certificate
    :param ssl_cert: path of the client certificate file (mutual TLS)
    :param ssl_key: path of the client key file (mutual TLS)
    :param ssl_verify_cert: verify the server certificate (against `ssl_ca`, else the system's CAs) and
        that it names the host connected to
    :param connect_timeout: seconds to wait for the TCP connection and handshake
    :param read_timeout: seconds to wait for one read from the server; empty means no limit
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    binlog_host: str | None = None
    binlog_port: int | None = Field(default=None, ge=1, le=65535)
    charset: str = "utf8mb4"
    ssl: bool = False
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    ssl_verify_cert: bool = True
    connect_timeout: int = Field(default=10, ge=1, le=3600)
    read_timeout: int | None = Field(default=None, ge=1)

    @field_validator("charset")
    @classmethod
    def _charset_word(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise ValueError("must be a MySQL character set name such as utf8mb4")
        return value

    @model_validator(mode="after")
    def _tls_consistent(self) -> ObConnExtras:
        problems = []
        files = {key: getattr(self, key) for key in ("ssl_ca", "ssl_cert", "ssl_key") if getattr(self, key)}
        if not self.ssl:
            problems += [
                f"{key} is {value!r} but ssl is false, so the connection would be plain text: set ssl "
                f"to true to use TLS, or remove {key}"
                for key, value in files.items()
            ]
        elif bool(self.ssl_cert) != bool(self.ssl_key):
            given, missing = ("ssl_cert", "ssl_key") if self.ssl_cert else ("ssl_key", "ssl_cert")
            problems.append(
                f"{given} is {files[given]!r} but {missing} is empty: mutual TLS needs both; set {missing}"
            )
        if self.ssl and self.ssl_ca and not self.ssl_verify_cert:
            problems.append(
                f"ssl_ca is {self.ssl_ca!r} but ssl_verify_cert is false, so the CA would be ignored and "
                "the server not verified: set ssl_verify_cert to true, or remove ssl_ca"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], conn_id: str) -> ObConnExtras:
        """Validate `conn.extra_dejson`; empty form fields count as unset, `extra__oceanbase__` prefixes accepted."""
        cleaned = {
            key.removeprefix("extra__oceanbase__"): value
            for key, value in extra.items()
            if value not in ("", None)
        }
        try:
            return cls.model_validate(cleaned)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, conn_id)) from None

    def tls(self) -> TlsSettings | None:
        """The TLS settings of the connection, or None for a plain connection."""
        if not self.ssl:
            return None
        return TlsSettings(
            ca=self.ssl_ca, cert=self.ssl_cert, key=self.ssl_key, verify_cert=self.ssl_verify_cert
        )


def _describe(exc: ValidationError, conn_id: str) -> str:
    """Turn a pydantic error into one line per bad extra, naming the key, the value and the fix."""
    valid = ", ".join(ObConnExtras.model_fields)
    lines = [f"connection {conn_id!r} has invalid extras:"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "extra"
        value = err.get("input")
        if not err["loc"]:  # a rule across extras: its message names them and their values
            lines.append(f"  - {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] == "extra_forbidden":
            lines.append(f"  - {key}: unknown extra {value!r}; valid extras are: {valid}")
        else:
            lines.append(f"  - {key}: {value!r}: {err['msg']}")
    return "\n".join(lines)
