"""Settings a new user gets wrong are refused in one line that names the variable."""

from __future__ import annotations

import pytest
from aiormq import Connection

from adapter.settings import SettingsError, load_settings, verifies_certificate


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("mysql://x", "mysql"), ("sqlite:///./x.db", "sqlite"),
     ("postgresql://u@h/d", "postgresql"), ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2")],
)
def test_a_store_the_adapter_cannot_open_is_refused(url: str, scheme: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(store_url=url)

    [line] = str(refused.value).splitlines()
    assert f"POS_ADAPTER_STORE_URL: unsupported scheme {scheme!r}; use sqlite+aiosqlite" in line
    assert "Value error" not in line


def test_a_store_url_that_is_no_url_is_refused() -> None:
    with pytest.raises(SettingsError, match="POS_ADAPTER_STORE_URL: not a database URL"):
        load_settings(store_url="pos-adapter.db")


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///:memory:",
                                 "postgresql+asyncpg://u:p@h:5432/d"])
def test_the_stores_the_adapter_runs_on_are_accepted(url: str) -> None:
    assert load_settings(store_url=url).store_url == url


@pytest.mark.parametrize("url", [
    "amqps://u:p@broker/?no_verify_ssl=1",
    "amqps://u:p@broker/?cafile=/ca.pem&no_verify_ssl=true",
    "amqps://u:p@a/?cafile=/ca.pem,amqps://u:p@b/?no_verify_ssl=yes",
])
def test_tls_without_certificate_verification_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(amqp_url=url)

    [line] = str(refused.value).splitlines()
    assert "POS_ADAPTER_AMQP_URL: no_verify_ssl" in line
    assert "POS_ADAPTER_AMQP_ALLOW_INSECURE_TLS=true" in line
    assert ":p@" not in line  # never the credentials
    assert load_settings(amqp_url=url, amqp_allow_insecure_tls=True).amqp_url == url


@pytest.mark.parametrize("url", [
    "amqps://u:p@broker/", "amqps://u:p@broker/?no_verify_ssl=0",
    "amqps://u:p@broker/?cafile=/ca.pem&certfile=/c.pem&keyfile=/k.pem",
])
def test_tls_with_verification_is_accepted(url: str) -> None:
    assert load_settings(amqp_url=url).amqp_url == url


@pytest.mark.parametrize("query", ["", "?no_verify_ssl=0", "?no_verify_ssl=1",
                                   "?no_verify_ssl=false", "?no_verify_ssl=", "?cafile=/x"])
async def test_verification_is_read_from_the_url_as_aiormq_reads_it(query: str) -> None:
    url = f"amqps://u:p@broker/{query}"

    assert verifies_certificate(url) is Connection(url).ssl_certs.verify
