"""Services for the suite: a real RabbitMQ and a real PostgreSQL; and no
``POS_ADAPTER_*`` variable from the shell.

Every ``POS_ADAPTER_*`` variable exported where pytest starts is removed for the session
(and put back after it), so the tests, and the workers they start as processes (which
inherit ``os.environ``), see the defaults plus what each test sets: a developer's
``POS_ADAPTER_DRIVER=restai`` must not make the suite fail, nor pass, by accident.

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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapter.settings import ENV_PREFIX
from adapter.store import SqlStore

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

_removed_environment = pytest.StashKey[dict[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    """Remove the exported ``POS_ADAPTER_*`` variables before anything reads them
    (collection imports test modules; the tests' child processes copy ``os.environ``)."""
    config.stash[_removed_environment] = {
        name: os.environ.pop(name) for name in list(os.environ) if name.startswith(ENV_PREFIX)
    }


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give them back, for whatever runs pytest in-process."""
    os.environ.update(config.stash.get(_removed_environment, {}))


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


async def _create_database(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    name = f"pos_adapter_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database=parsed.database or "postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, parsed.set(database=name).render_as_string(hide_password=False)


async def _drop_database(url: str, name: str) -> None:
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database=parsed.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name, url = await _create_database(base)
    try:
        yield url
    finally:
        await _drop_database(base, name)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    opened = SqlStore(store_url)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()
