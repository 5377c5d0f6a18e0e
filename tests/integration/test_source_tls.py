"""
TLS to the source, on a PRIVATE MariaDB serving TLS with a certificate of a CA this file generates: the right
CA passes, a wrong CA, no CA (system CAs) and a wrong host name fail with a clear error, for the SQL
connection and for the binlog stream alike; TLS files without `ssl: true` are refused, never a silent plain connection.
"""

from __future__ import annotations

import contextlib
import json
import ssl

import pymysql
import pytest

from airflow_provider_obkafka.engine.binlog.seek import earliest_event_time
from airflow_provider_obkafka.engine.binlog.wire import DumpStream
from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.hooks.oceanbase import OceanBaseHook
from airflow_provider_obkafka.models.position import BinlogPosition
from devservices.certs import Authority
from devservices.mariadb import MariadbService, ServerTls
from tests.integration.private_services import Private

SERVER_NAME = "localhost"  # the only name the server certificate holds: 127.0.0.1 is a wrong host name
PASSWORD = "tls-Secret-7f3a"  # noqa: S105 - a throwaway user of the private server


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    right, wrong = Authority(folder, "right"), Authority(folder, "wrong")
    server = right.issue("server", "mariadb", hosts=(SERVER_NAME,))
    client = right.issue("client", "sync-client", client=True)
    return {"ca": right.ca_file, "wrong_ca": wrong.ca_file, "server": server, "client": client}


@pytest.fixture(scope="module")
def tls_mariadb(pki, tmp_path_factory):
    tls = ServerTls(pki["ca"], pki["server"].cert, pki["server"].key)
    service = Private(MariadbService(tls=tls), tmp_path_factory.mktemp("tls-mariadb"))
    conn = pymysql.connect(host=service.info.host, port=service.info.port, user="root", autocommit=True)
    with contextlib.closing(conn), conn.cursor() as cur:
        for user, require in (("tls_user", "SSL"), ("x509_user", "X509")):
            cur.execute(
                f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{PASSWORD}' REQUIRE {require}"
            )
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'")
        cur.execute("CREATE DATABASE IF NOT EXISTS tls_db")
        cur.execute("CREATE TABLE IF NOT EXISTS tls_db.t (id INT PRIMARY KEY)")
        cur.execute("INSERT IGNORE INTO tls_db.t VALUES (1)")
    yield service.info
    service.stop()


def _hook(monkeypatch, info, host=SERVER_NAME, login="tls_user", password=PASSWORD, **extra) -> OceanBaseHook:
    conn = {"conn_type": "oceanbase", "host": host, "port": info.port, "login": login, "password": password}
    monkeypatch.setenv("AIRFLOW_CONN_TLS_SOURCE", json.dumps({**conn, "extra": extra}))
    return OceanBaseHook(ob_conn_id="tls_source")


def _cipher_of(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        return cur.fetchone()[1]


def _dump(settings: dict) -> DumpStream:
    return DumpStream(settings, 4242, BinlogPosition(file="binlog.000001", position=4), heartbeat_s=0)


def test_right_ca_passes_for_the_sql_connection_and_the_binlog_stream(monkeypatch, tls_mariadb, pki):
    hook = _hook(monkeypatch, tls_mariadb, ssl=True, ssl_ca=str(pki["ca"]))
    assert hook.get_first("SELECT COUNT(*) FROM tls_db.t") == (1,)
    with contextlib.closing(hook.get_conn()) as conn:
        assert _cipher_of(conn), "the SQL connection runs TLS"
    settings = hook.binlog_connection_settings()
    assert json.loads(json.dumps(settings)) == settings, (
        "the settings cross to the trigger and workers as JSON"
    )
    stream = _dump(settings)
    try:
        assert isinstance(stream.conn._sock, ssl.SSLSocket), "the binlog stream runs TLS"
        assert next(stream.packets())[:1] == b"\x00", "the dump streams events"
    finally:
        stream.close()
    assert earliest_event_time(settings, 4243) is not None, "the seek's replication client uses TLS too"
    assert hook.binlog_position().file.startswith("binlog.")


@pytest.mark.parametrize("ca", ["wrong", "system"])
def test_a_wrong_ca_fails_clearly_for_both_paths(monkeypatch, tls_mariadb, pki, ca):
    extra = {"ssl": True, "ssl_ca": str(pki["wrong_ca"])} if ca == "wrong" else {"ssl": True}
    hook = _hook(monkeypatch, tls_mariadb, **extra)
    against = f"the CA file ssl_ca='{pki['wrong_ca']}'" if ca == "wrong" else "the system's CAs (no ssl_ca)"
    expected = (
        f"TLS to {SERVER_NAME}:{tls_mariadb.port}: the server certificate does not verify against {against}"
    )
    with pytest.raises(ConfigError, match="does not verify") as sql_error:
        hook.get_conn()
    assert expected in str(sql_error.value)
    assert "set ssl_ca" in str(sql_error.value)
    assert PASSWORD not in str(sql_error.value)
    with pytest.raises(ConfigError, match="does not verify") as binlog_error:
        _dump(hook.binlog_connection_settings())
    assert expected in str(binlog_error.value)


def test_a_wrong_host_name_fails_when_the_certificate_is_verified(monkeypatch, tls_mariadb, pki):
    hook = _hook(monkeypatch, tls_mariadb, host="127.0.0.1", ssl=True, ssl_ca=str(pki["ca"]))
    with pytest.raises(ConfigError, match="IP address mismatch") as sql_error:
        hook.get_conn()
    assert "connect to a host name the certificate names" in str(sql_error.value)
    with pytest.raises(ConfigError, match="IP address mismatch"):
        _dump(hook.binlog_connection_settings())
    unverified = _hook(monkeypatch, tls_mariadb, host="127.0.0.1", ssl=True, ssl_verify_cert=False)
    assert unverified.get_first("SELECT 1") == (1,), "ssl_verify_cert false: TLS without checks, as asked"


def test_mutual_tls_sends_the_client_certificate(monkeypatch, tls_mariadb, pki):
    pair = pki["client"]
    hook = _hook(monkeypatch, tls_mariadb, login="x509_user", ssl=True, ssl_ca=str(pki["ca"]),
                 ssl_cert=str(pair.cert), ssl_key=str(pair.key))  # fmt: skip
    assert hook.get_first("SELECT 1") == (1,)
    stream = _dump(hook.binlog_connection_settings())
    stream.close()
    without = _hook(monkeypatch, tls_mariadb, login="x509_user", ssl=True, ssl_ca=str(pki["ca"]))
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        without.get_conn()


def test_tls_files_without_ssl_are_refused_not_plain(monkeypatch, tls_mariadb, pki):
    hook = _hook(monkeypatch, tls_mariadb, ssl_ca=str(pki["ca"]))
    with pytest.raises(ConfigError) as err:
        hook.get_conn()
    text = str(err.value)
    assert f"ssl_ca is '{pki['ca']}' but ssl is false" in text
    assert "set ssl to true" in text


def test_ssl_against_a_server_without_tls_is_an_error_not_plain_text(monkeypatch, mariadb_service):
    hook = _hook(monkeypatch, mariadb_service, host=mariadb_service.host, login="root", password="", ssl=True,
                 ssl_verify_cert=False)  # fmt: skip
    with pytest.raises(ConfigError, match="enable TLS on the server, or set ssl to false"):
        hook.get_conn()
