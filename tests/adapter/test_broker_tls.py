"""TLS to the broker: the URL's cafile, certfile and keyfile work as docs/deployment.md
says, and a certificate failure is reported as one, not as an unreachable broker.

The "broker" is a TLS server on the loopback with certificates made by ``openssl`` for
the test: TLS is all that is tried here, so it needs no AMQP behind it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import pytest

from adapter.amqp import BROKER_UNREACHABLE, connect_failure, connect_once
from adapter.amqp._connection import ClosedOnFailure
from adapter.ops.health import check_broker
from adapter.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: tuple[Path, Path]
    client: tuple[Path, Path]


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(cwd: Path, name: str, extensions: str) -> tuple[Path, Path]:
    """A key and a certificate for ``name`` signed by the test CA."""
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl(cwd, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    _openssl(cwd, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext")
    return cwd / f"{name}.pem", cwd / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate."""
    cwd = tmp_path_factory.mktemp("pki")
    _openssl(cwd, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=pos-adapter test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    server = _issue(cwd, "server", "subjectAltName=IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    client = _issue(cwd, "client", "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    return Pki(cwd / "ca.pem", server, client)


@dataclass
class TlsServer:
    port: int
    client_names: list[str] = field(default_factory=list)


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[TlsServer]:
    """Requires a client certificate from the CA; records its name; then hangs up."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.ca)
    context.load_cert_chain(*pki.server)
    context.verify_mode = ssl.CERT_REQUIRED
    names: list[str] = []

    async def handshaken(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        names.extend(value for rdn in peer.get("subject", ()) for key, value in rdn
                     if key == "commonName")
        writer.close()

    server = await asyncio.start_server(handshaken, "127.0.0.1", 0, ssl=context)
    async with server:
        yield TlsServer(server.sockets[0].getsockname()[1], names)


async def failure_of(url: str) -> tuple[str, str]:
    with pytest.raises(Exception) as failed:  # noqa: PT011 - whatever aiormq raises
        await connect_once(url, timeout=5)
    return connect_failure(failed.value, url)


async def test_a_certificate_no_trusted_ca_signed_is_reported_as_such(
    tls_server: TlsServer,
) -> None:
    what, detail = await failure_of(f"amqps://guest:guest@127.0.0.1:{tls_server.port}/")

    assert what == "TLS certificate verification failed"
    assert "certificate" in detail
    assert tls_server.client_names == []


async def test_cafile_trusts_a_private_ca_and_certfile_keyfile_present_the_client(
    tls_server: TlsServer, pki: Pki,
) -> None:
    cert, key = pki.client
    url = (f"amqps://guest:guest@127.0.0.1:{tls_server.port}/"
           f"?cafile={pki.ca}&certfile={cert}&keyfile={key}")

    what, _detail = await failure_of(url)

    assert tls_server.client_names == ["client"]  # TLS held; the server then hung up
    assert not what.startswith("TLS")


async def test_a_cafile_that_cannot_be_read_is_named(tls_server: TlsServer,
                                                     tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"

    what, detail = await failure_of(
        f"amqps://guest:guest@127.0.0.1:{tls_server.port}/?cafile={missing}")

    assert what == "TLS certificate files unreadable"
    assert detail == f"cafile={missing}"


async def test_a_closed_port_is_an_unreachable_broker() -> None:
    what, _detail = await failure_of("amqp://guest:guest@127.0.0.1:1/")

    assert what == BROKER_UNREACHABLE


async def test_the_worker_logs_a_certificate_failure_as_one(
    tls_server: TlsServer, tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_ADAPTER_")}
    env |= {"POS_ADAPTER_AMQP_URL": f"amqps://guest:guest@127.0.0.1:{tls_server.port}/",
            "POS_ADAPTER_METRICS_PORT": "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter.cli", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not lines or "TLS" not in lines[-1]:
                lines.append((await process.stderr.readline()).decode())
                assert lines[-1], "the worker exited"
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(process.communicate(), 30)

    record = json.loads(lines[-1])
    assert record["event"] == "TLS certificate verification failed"
    assert record["level"] == "error"
    assert "certificate" in record["error"]
    lines += rest.decode().splitlines()
    assert not any(BROKER_UNREACHABLE in line or "aiormq" in line for line in lines), lines
    assert process.returncode == 0


async def test_health_names_the_certificate_failure(tls_server: TlsServer) -> None:
    settings = Settings(amqp_url=f"amqps://guest:guest@127.0.0.1:{tls_server.port}/")

    check = await check_broker(settings, timeout=5)

    assert not check.ok
    assert check.detail.startswith("TLS certificate verification failed: ")


async def test_a_connection_that_failed_is_closed_not_left_to_the_collector(
    tls_server: TlsServer,
) -> None:
    """aio-pika's own class stays open: its ``__del__`` then schedules ``close()``, which
    with no loop running is dropped unawaited (a RuntimeWarning in whatever runs then)."""
    url = aio_pika.connection.make_url(f"amqps://guest:guest@127.0.0.1:{tls_server.port}/")
    connection = ClosedOnFailure(url)

    with pytest.raises(aio_pika.exceptions.AMQPConnectionError, match="CERTIFICATE_VERIFY"):
        await connection.connect(timeout=5)

    assert connection.is_closed
