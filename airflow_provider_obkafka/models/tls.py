"""
TLS to the source: the plain, JSON-safe settings that travel with the connection settings (to the trigger,
to worker processes), and the `ssl.SSLContext` built from them at connect time, by the hook and by the
binlog stream alike.

PyMySQL's own `ssl` dict verifies nothing when it has no CA file (`CERT_NONE`, no host name check); the
context here always verifies when asked to: against the CA file, else the system's CAs, with the host name.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql
from pydantic import BaseModel, ConfigDict

from airflow_provider_obkafka.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["TlsSettings", "connect_mysql", "tls_context"]


class TlsSettings(BaseModel):
    """
    TLS to a MySQL-protocol endpoint (the SQL endpoint or the Binlog Service).

    :param ca: CA certificate file (PEM) that signs the server certificate; None: the system's CAs
    :param cert: client certificate file (PEM), for mutual TLS
    :param key: client key file (PEM), for mutual TLS
    :param verify_cert: verify the server certificate's chain and that it names the host connected to
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify_cert: bool = True

    def context(self) -> ssl.SSLContext:
        """A client context: chain and host name checked when `verify_cert`; the client pair if given."""
        for extra, path in (("ssl_ca", self.ca), ("ssl_cert", self.cert), ("ssl_key", self.key)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(
                    f"TLS extra {extra}: file {path!r} does not exist or is not a file; fix the path"
                )
        try:
            ctx = ssl.create_default_context(cafile=self.ca)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"TLS extra ssl_ca: {self.ca!r} is not a PEM CA certificate file: {exc}"
            ) from exc
        if not self.verify_cert:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert:
            try:
                ctx.load_cert_chain(self.cert, keyfile=self.key)
            except ssl.SSLError as exc:
                raise ConfigError(
                    f"TLS extras ssl_cert/ssl_key: {self.cert!r} and {self.key!r} are not a matching PEM "
                    f"certificate and key: {exc}"
                ) from exc
        return ctx


def tls_context(settings: Mapping[str, Any] | None) -> ssl.SSLContext | None:
    """The context for a connection's `ssl` setting (a `TlsSettings` dump); None when it is plain."""
    if not settings:
        return None
    return TlsSettings.model_validate(dict(settings)).context()


def connect_mysql(**kwargs: Any) -> pymysql.connections.Connection:
    """
    `pymysql.connect` with `ssl` given as plain settings (a `TlsSettings` dump, or None for plain text): the
    context is built here, a failed TLS handshake is a ConfigError naming the endpoint and the fix, and a
    connection that asked for TLS but got none (old PyMySQL falls back silently) is refused.
    """
    settings = kwargs.pop("ssl", None)
    if "db" in kwargs:  # mysql-replication's control connection still says `db`, deprecated by PyMySQL 1.1
        kwargs.setdefault("database", kwargs.pop("db"))
    endpoint = f"{kwargs.get('host')}:{kwargs.get('port')}"
    context = tls_context(settings)
    if context is None:
        # Plain, as asked: PyMySQL >= 1.2 would otherwise try TLS ("preferred") and build a context per
        # connection (about 0.1 s each).
        kwargs.setdefault("ssl_disabled", True)
        return pymysql.connect(**kwargs)
    kwargs.pop("ssl_disabled", None)
    try:
        conn = pymysql.connect(ssl=context, **kwargs)
    except pymysql.err.OperationalError as exc:
        raise _tls_error(exc, endpoint, settings or {}) from exc
    if not isinstance(getattr(conn, "_sock", None), ssl.SSLSocket):
        conn.close()
        raise ConfigError(
            f"{endpoint} did not start TLS although the connection's extra ssl is true: enable TLS on the "
            "server, or set ssl to false"
        )
    return conn


def _tls_error(exc: pymysql.err.OperationalError, endpoint: str, settings: Mapping[str, Any]) -> Exception:
    """A handshake failure explained (which check failed, against which CA, the fix); others unchanged."""
    cause = getattr(exc, "original_exception", None)
    if isinstance(cause, ssl.SSLCertVerificationError):
        against = (
            f"the CA file ssl_ca={settings['ca']!r}" if settings.get("ca") else "the system's CAs (no ssl_ca)"
        )
        return ConfigError(
            f"TLS to {endpoint}: the server certificate does not verify against {against}: "
            f"{cause.verify_message}; set ssl_ca to the CA that signed the server's certificate and connect "
            "to a host name the certificate names (ssl_verify_cert: false turns every check off, unsafe)"
        )
    if (exc.args and exc.args[0] == 2026) or isinstance(cause, ssl.SSLError):  # 2026: CR_SSL_CONNECTION_ERROR
        return ConfigError(
            f"TLS to {endpoint} failed: {cause or exc.args[-1]}; enable TLS on the server, or set ssl "
            "to false"
        )
    return exc
