"""The suite's environment: no ``POS_ADAPTER_*`` variable from the shell, and a real
RabbitMQ and PostgreSQL, or a stop before the first test saying which is missing.

Every ``POS_ADAPTER_*`` variable exported where pytest starts is removed for the session
(and put back after it), so the tests, and the workers they start as processes (which
inherit ``os.environ``), see the defaults plus what each test sets: a developer's
``POS_ADAPTER_DRIVER=restai`` must not make the suite fail, nor pass, by accident.

``AMQP_URL`` / ``POSTGRES_URL`` point at running services; a URL given must answer (it is
never silently replaced by another). Unset, the local default ports are tried
(127.0.0.1:5672 guest/guest, 127.0.0.1:5432 postgres with trust); then, where Docker
answers, testcontainers starts throwaway ones. When a service the selected tests need is
missing, the run stops before the first test with one line saying which and how to fix
it: a green run means the tests ran. ``--skip-missing-services`` (e.g. in
``PYTEST_ADDOPTS``) skips those tests instead, as an explicit choice.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapter.settings import ENV_PREFIX
from adapter.store import SqlStore

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SKIP_MISSING = "--skip-missing-services"
EXIT_MISSING_SERVICE = pytest.ExitCode.USAGE_ERROR
"""The run's exit code when a needed service is missing: the machine, not a test, is
wrong."""

_removed_environment = pytest.StashKey[dict[str, str]]()
_whereabouts = pytest.StashKey[dict[str, "Whereabouts"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        SKIP_MISSING, action="store_true",
        help="skip the tests needing RabbitMQ or PostgreSQL when it is missing, instead of "
        "stopping the run",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Remove the exported ``POS_ADAPTER_*`` variables before anything reads them
    (collection imports test modules; the tests' child processes copy ``os.environ``)."""
    config.stash[_removed_environment] = {
        name: os.environ.pop(name) for name in list(os.environ) if name.startswith(ENV_PREFIX)
    }


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give them back, for whatever runs pytest in-process."""
    removed: dict[str, str] = config.stash.get(_removed_environment, {})
    os.environ.update(removed)


@dataclass(frozen=True)
class Service:
    """A service some tests need, found by ``variable`` or at ``local_url``."""

    name: str
    variable: str
    fixture: str
    marker: str
    local_url: str
    default_port: int


RABBITMQ = Service("RabbitMQ", "AMQP_URL", "amqp_url", "rabbitmq", LOCAL_AMQP, 5672)
POSTGRES = Service("PostgreSQL", "POSTGRES_URL", "postgres_url", "postgres", LOCAL_POSTGRES,
                   5432)
SERVICES = (RABBITMQ, POSTGRES)


@dataclass(frozen=True)
class Whereabouts:
    """Where a service is: a URL that answers, Docker to start one, or why neither."""

    url: str | None = None
    docker: bool = False
    missing: str | None = None


def _addresses(url: str, default_port: int) -> list[tuple[str, int]]:
    """The host and port of each node of ``url`` (a broker URL may list several)."""
    found = []
    for node in url.split(","):
        parts = urlsplit(node.strip())
        if parts.hostname:
            found.append((parts.hostname, parts.port or default_port))
    return found


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return shutil.which("docker") is not None and os.path.exists("/var/run/docker.sock")


def _locate(service: Service) -> Whereabouts:
    given = os.environ.get(service.variable)
    if given:
        addresses = _addresses(given, service.default_port)
        if not addresses or any(_answers(address) for address in addresses):
            return Whereabouts(url=given)  # no host: a Unix socket, left to the client
        where = ", ".join(f"{host}:{port}" for host, port in addresses)
        return Whereabouts(missing=f"{service.variable} is set but nothing answers at {where}")
    [(host, port)] = _addresses(service.local_url, service.default_port)
    if _answers((host, port)):
        return Whereabouts(url=service.local_url)
    if _docker_available():
        return Whereabouts(docker=True)
    return Whereabouts(missing=f"{service.name} is not running on {host}:{port}, "
                               f"{service.variable} is not set and Docker is not available")


def whereabouts(config: pytest.Config, service: Service) -> Whereabouts:
    """``service``'s whereabouts, looked for once a session."""
    known = config.stash.setdefault(_whereabouts, {})
    if service.name not in known:
        known[service.name] = _locate(service)
    return known[service.name]


def _skipped_anyway(item: pytest.Item) -> bool:
    """A test a ``skip``/``skipif`` marker skips whatever the services (a live RestAI not
    configured): it needs none. String conditions are not evaluated (counted as needing)."""
    if item.get_closest_marker("skip") is not None:
        return True
    for mark in item.iter_markers("skipif"):
        conditions = mark.args or (mark.kwargs.get("condition"),)
        if any(isinstance(condition, bool) and condition for condition in conditions):
            return True
    return False


def _needs(item: pytest.Item, service: Service) -> bool:
    asks = (service.fixture in getattr(item, "fixturenames", ())
            or item.get_closest_marker(service.marker) is not None)
    return asks and not _skipped_anyway(item)


def _missing_line(missing: dict[Service, Whereabouts]) -> str:
    names = " and ".join(service.name for service in missing)
    problems = "; ".join(f"{where.missing}" for where in missing.values())
    variables = " / ".join(service.variable for service in missing)
    it, one = ("them", "running ones") if len(missing) > 1 else ("it", "a running one")
    return (f"missing {names}: {problems}. Start {it} (`make services`), point {variables} "
            f"at {one}, or pass {SKIP_MISSING} (e.g. in PYTEST_ADDOPTS) to skip the tests "
            f"that need {it}")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop before the first test when a service the selected tests need is missing (or,
    opted in, mark those tests skipped): one line, not a hundred skips or errors."""
    config = session.config
    if config.option.collectonly:
        return
    needed = [s for s in SERVICES if any(_needs(item, s) for item in session.items)]
    missing = {s: where for s in needed if (where := whereabouts(config, s)).missing}
    if not missing:
        return
    if not config.getoption(SKIP_MISSING):
        pytest.exit(_missing_line(missing), returncode=EXIT_MISSING_SERVICE)
    for item in session.items:
        for service, where in missing.items():
            if _needs(item, service):
                item.add_marker(pytest.mark.skip(reason=f"needs {service.name}: {where.missing}"))


def _give_up(config: pytest.Config, service: Service, where: Whereabouts) -> NoReturn:
    """For a test that asked for ``service`` without declaring it (``getfixturevalue``)."""
    if config.getoption(SKIP_MISSING):
        pytest.skip(f"needs {service.name}: {where.missing}")
    pytest.exit(_missing_line({service: where}), returncode=EXIT_MISSING_SERVICE)


@pytest.fixture(scope="session")
def amqp_url(pytestconfig: pytest.Config) -> Iterator[str]:
    where = whereabouts(pytestconfig, RABBITMQ)
    if where.url is not None:
        yield where.url
        return
    if not where.docker:
        _give_up(pytestconfig, RABBITMQ, where)
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13") as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5672)
        yield f"amqp://guest:guest@{host}:{port}/"


@pytest.fixture(scope="session")
def postgres_url(pytestconfig: pytest.Config) -> Iterator[str]:
    where = whereabouts(pytestconfig, POSTGRES)
    if where.url is not None:
        yield where.url
        return
    if not where.docker:
        _give_up(pytestconfig, POSTGRES, where)
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
