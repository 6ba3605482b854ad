"""Services for the suite: a real RabbitMQ and a real PostgreSQL.

``AMQP_URL`` / ``POSTGRES_URL`` point at running services. Unset, the local default
ports are tried (127.0.0.1:5672 guest/guest, 127.0.0.1:5432 postgres with trust); then,
where Docker answers, testcontainers starts throwaway ones; otherwise the tests that
need them are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator

import pytest

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return shutil.which("docker") is not None and os.path.exists("/var/run/docker.sock")


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("AMQP_URL") or (LOCAL_AMQP if _listening(5672) else None)
    if url:
        yield url
        return
    if not _docker_available():
        pytest.skip("needs RabbitMQ: set AMQP_URL or make Docker available")
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13") as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5672)
        yield f"amqp://guest:guest@{host}:{port}/"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("POSTGRES_URL") or (LOCAL_POSTGRES if _listening(5432) else None)
    if url:
        yield url
        return
    if not _docker_available():
        pytest.skip("needs PostgreSQL: set POSTGRES_URL or make Docker available")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver="asyncpg") as container:
        yield container.get_connection_url()


@pytest.fixture
def location_id() -> str:
    """A location of its own for each test, so queues never clash."""
    return f"t-{uuid.uuid4().hex[:12]}"
