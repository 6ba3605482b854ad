"""A fleet of processes with one locations file and one PostgreSQL store: the locations
spread over the processes, a joining process gets its share, and a process killed with
SIGKILL under load has its locations served again by the others: no result lost, every
stream going on without a gap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from adapter.settings import Settings
from adapter.testing import OpenAppClient
from pos_drivers.mock import MockPosControl, MockPosServer
from tests.conftest import _create_database, _drop_database
from tests.integration.conftest import delete_queues, eventually

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

LOCATIONS = 6
TTL = 2.0
SNAPSHOT = "TableOrderSnapshotRequested"


class Member:
    """``pos-adapter run`` in a child process; its log lines read as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.events: list[dict[str, Any]] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapter.cli", "run", env=self.env,
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        )
        self._reader = asyncio.create_task(self._read())
        await eventually(self.started, timeout=30)

    async def started(self) -> bool:
        return any(e.get("event") == "pos-adapter started" for e in self.events)

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        while raw := await self.process.stderr.readline():
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(raw))

    async def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        await asyncio.wait_for(self.process.wait(), 30)
        if self._reader is not None:
            await self._reader


@pytest.fixture
async def shared_store(postgres_url: str) -> AsyncIterator[str]:
    name, url = await _create_database(postgres_url)
    try:
        yield url
    finally:
        await _drop_database(postgres_url, name)


async def leases(store_url: str) -> dict[str, str]:
    """location -> holder, for the leases not expired."""
    url = make_url(store_url)
    conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                 database=url.database)
    try:
        rows = await conn.fetch("SELECT location_id, holder FROM leases WHERE expires_at > now()")
    finally:
        await conn.close()
    return {row["location_id"]: row["holder"] for row in rows}


async def spread(store_url: str, members: int) -> bool:
    """Every location held, and shared out evenly between ``members`` holders."""
    held = await leases(store_url)
    shares = sorted(Counter(held.values()).values())
    low, extra = divmod(LOCATIONS, members)
    return (len(held) == LOCATIONS and len(shares) == members
            and all(low <= share <= low + (1 if extra else 0) for share in shares))


async def test_a_fleet_shares_the_locations_and_survives_a_kill(
    settings: Settings, shared_store: str, amqp_url: str, tmp_path: Path
) -> None:
    ids = [f"t-{uuid.uuid4().hex[:8]}-{n}" for n in range(LOCATIONS)]
    tables = {location: f"T{n + 1}" for n, location in enumerate(ids)}
    async with contextlib.AsyncExitStack() as stack:
        pos_server = await stack.enter_async_context(MockPosServer())
        pos = await stack.enter_async_context(MockPosControl(pos_server.url))
        apps = {location: await stack.enter_async_context(OpenAppClient(amqp_url, location))
                for location in ids}
        stack.push_async_callback(_delete_all_queues, settings, ids)
        file = tmp_path / "locations.toml"
        file.write_text("".join(f'[[location]]\nid = "{location}"\n\n' for location in ids))
        env = {**os.environ,
               "POS_ADAPTER_AMQP_URL": amqp_url, "POS_ADAPTER_STORE_URL": shared_store,
               "POS_ADAPTER_POS_URL": pos_server.url, "POS_ADAPTER_LOCATIONS_FILE": str(file),
               "POS_ADAPTER_LEASE_TTL": str(TTL), "POS_ADAPTER_POLL_INTERVAL": "0.2",
               "POS_ADAPTER_METRICS_PORT": "0", "POS_ADAPTER_INBOX_QUEUE": "false",
               "POS_ADAPTER_SHUTDOWN_GRACE": "3", "POS_ADAPTER_LOG_FORMAT": "json"}
        members = [Member(env) for _ in range(3)]
        for member in members:
            stack.push_async_callback(member.stop)

        for member in members[:2]:
            await member.start()
        await eventually(lambda: spread(shared_store, 2), timeout=20)
        streams = {}
        for location, app in apps.items():
            opened = await app.result_for(await app.send(
                SNAPSHOT, {"posTableId": tables[location], "tableSessionId": "s"}))
            streams[location] = opened.payload["streamId"]
        await members[2].start()
        await eventually(lambda: spread(shared_store, 3), timeout=20)

        victim = next(iter(set((await leases(shared_store)).values())))
        sent: list[tuple[str, str]] = []

        async def load() -> None:
            while True:
                for location, app in apps.items():
                    sent.append((location, await app.send(
                        SNAPSHOT, {"posTableId": tables[location], "tableSessionId": "s"})))
                await asyncio.sleep(0.05)

        loading = asyncio.create_task(load())

        async def under_load() -> bool:
            return len(sent) >= 2 * LOCATIONS

        await eventually(under_load)  # commands in flight when the member dies
        [killed] = [m for m in members if _holder_of(m, victim)]
        await killed.stop(kill=True)
        await eventually(lambda: spread(shared_store, 2), timeout=TTL + 15)
        loading.cancel()
        await asyncio.gather(loading, return_exceptions=True)
        for location in ids:
            await pos.add_waiter_lines(tables[location], [{"productId": "chicha", "quantity": 1}])

        for location, message_id in sent:
            result = await apps[location].result_for(message_id, timeout=20)
            assert result.payload["outcome"] == "RESOLVED", result.payload
        for location, app in apps.items():
            changes = await app.wait_changes(streams[location], 2, timeout=20)
            assert [c.payload["changeType"] for c in changes] == ["ORDER_OPENED",
                                                                  "POS_LINE_ADDED"]
            sequences = sorted({c.payload["sequence"] for c in app.changes(streams[location])})
            assert sequences == list(range(1, len(sequences) + 1))  # no gap


def _holder_of(member: Member, holder: str) -> bool:
    """Whether ``member``'s process is the lease holder named ``holder`` (host:pid:…)."""
    return member.process is not None and f":{member.process.pid}:" in holder


async def _delete_all_queues(settings: Settings, ids: list[str]) -> None:
    for location in ids:
        located = settings.model_copy(update={"location_id": location})
        await delete_queues(settings.amqp_url, located)
