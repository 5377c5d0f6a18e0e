"""The provider registers with Airflow, and its connection form matches the extras the hook accepts."""

from __future__ import annotations

import ssl
from importlib.metadata import entry_points
from typing import Any

import pytest

from airflow_provider_obkafka.exceptions import ConfigError
from airflow_provider_obkafka.get_provider_info import get_provider_info
from airflow_provider_obkafka.models.extras import ObConnExtras, ObLogin
from airflow_provider_obkafka.models.tls import TlsSettings


def test_entry_point_is_registered():
    found = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_obkafka")
    ]
    assert len(found) == 1
    assert found[0].load()()["package-name"] == "airflow-provider-obkafka"


def test_form_fields_are_exactly_the_extras():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "oceanbase"
    assert set(conn_type["conn-fields"]) == set(ObConnExtras.model_fields)
    assert all(field["label"] for field in conn_type["conn-fields"].values())


def test_airflow_sees_the_provider_and_its_form(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-obkafka" in manager.providers
    hooks = _runtime_hooks(manager)
    assert hooks["oceanbase"].hook_class_name.endswith("OceanBaseHook")
    widgets = {k for k in manager.connection_form_widgets if k.startswith("extra__oceanbase__")}
    assert widgets == {f"extra__oceanbase__{name}" for name in ObConnExtras.model_fields}
    assert hooks["kafka"].package_name == "apache-airflow-providers-apache-kafka", "no second Kafka type"


def _runtime_hooks(manager: Any) -> Any:
    """The hooks as tasks see them: the task SDK's runtime manager (Airflow 3.3+), else the core one's."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:  # before Airflow 3.3 the core manager's hooks were not deprecated
        return manager.hooks
    return ProvidersManagerTaskRuntime().hooks


@pytest.mark.parametrize(
    ("login", "parts"),
    [
        ("root", ("root", None, None)),
        ("app@tenant1", ("app", "tenant1", None)),
        ("app@tenant1#obcluster", ("app", "tenant1", "obcluster")),
    ],
)
def test_login_forms(login, parts):
    parsed = ObLogin.parse(login)
    assert (parsed.user, parsed.tenant, parsed.cluster) == parts


@pytest.mark.parametrize("login", ["", "@tenant", "a@b@c", "a#c#d"])
def test_bad_login(login):
    with pytest.raises(ConfigError, match="not a valid OceanBase login"):
        ObLogin.parse(login)


def test_extras_defaults_and_form_strings():
    extras = ObConnExtras.from_extra(
        {"extra__oceanbase__binlog_port": "2883", "charset": "", "ssl": "true"}, "c"
    )
    assert extras.binlog_port == 2883 and extras.charset == "utf8mb4" and extras.ssl is True
    assert extras.tls() == TlsSettings(ca=None, cert=None, key=None, verify_cert=True)
    context = extras.tls().context()
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True), "system CAs, verified"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"ssl_ca": "/etc/ob/ca.pem"}, ["ssl_ca is '/etc/ob/ca.pem' but ssl is false", "set ssl to true"]),
        ({"ssl": "false", "ssl_cert": "/c.pem", "ssl_key": "/k.pem"},
         ["ssl_cert is '/c.pem' but ssl is false", "ssl_key is '/k.pem' but ssl is false"]),
        ({"ssl": True, "ssl_cert": "/c.pem"}, ["ssl_cert is '/c.pem' but ssl_key is empty", "set ssl_key"]),
        ({"ssl": True, "ssl_ca": "/ca.pem", "ssl_verify_cert": False},
         ["ssl_ca is '/ca.pem' but ssl_verify_cert is false", "set ssl_verify_cert to true"]),
    ],
)  # fmt: skip
def test_contradictory_tls_extras_are_refused(extra, words):
    with pytest.raises(ConfigError) as err:
        ObConnExtras.from_extra(extra, "ob_prod")
    for word in ["ob_prod", *words]:
        assert word in str(err.value)


def test_a_missing_tls_file_names_the_extra_and_the_path(tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match=f"TLS extra ssl_ca: file '{missing}' does not exist"):
        TlsSettings(ca=missing).context()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"binlog_prot": 2883}, ["binlog_prot", "unknown extra", "binlog_port"]),
        ({"binlog_port": 70000}, ["binlog_port", "70000", "less than or equal to 65535"]),
        ({"charset": "utf8; DROP"}, ["charset", "character set name"]),
        ({"connect_timeout": "soon"}, ["connect_timeout", "'soon'", "integer"]),
    ],
)
def test_bad_extras_name_the_key_and_value(extra, words):
    with pytest.raises(ConfigError) as err:
        ObConnExtras.from_extra(extra, "ob_prod")
    text = str(err.value)
    assert "ob_prod" in text
    for word in words:
        assert word in text


def test_every_listed_module_imports():
    """The operators, sensors, triggers and hooks the metadata lists exist (a rename breaks this test)."""
    import importlib

    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    assert "airflow_provider_obkafka.sensors.precheck" in modules
    for module in modules:
        importlib.import_module(module)
