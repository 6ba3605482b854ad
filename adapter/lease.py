"""The per-location lease: which of several adapters serves a location right now.

Two adapters may run for one location (a hot standby) only with a shared PostgreSQL
store. The lease, a row per location in that store, names the one that consumes
commands, runs the watcher and relays the outbox; the other waits. The holder renews it
every third of its time to live; an adapter that cannot renew it in time stops serving at
once (it exits, and its supervisor starts it again as a standby), so two holders never
overlap by more than the renewal slack. A SQLite store belongs to one process: the worker
takes no lease there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapter.store._engine import Insert
from adapter.store._tables import leases

log = structlog.get_logger("pos_adapter.lease")

RunInTransaction = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]


def holder_name() -> str:
    """Who we are, readable in the store: host, process, and a nonce for restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LocationLease:
    def __init__(
        self,
        run: RunInTransaction,
        insert: Insert,
        location_id: str,
        *,
        ttl: float,
        clock: Callable[[], datetime],
        holder: str | None = None,
    ) -> None:
        self._run = run
        self._insert = insert
        self.location_id = location_id
        self.ttl = ttl
        self.clock = clock
        self.holder = holder or holder_name()
        self.lost = asyncio.Event()
        self.waited = False
        """Whether another adapter held the lease when we first asked."""

    async def try_acquire(self) -> bool:
        """Take the lease if it is free, expired or ours already; whether we hold it."""

        async def job(conn: AsyncConnection) -> str:
            now = self.clock()
            expires = now + timedelta(seconds=self.ttl)
            statement = self._insert(leases).values(
                location_id=self.location_id, holder=self.holder, expires_at=expires
            )
            statement = statement.on_conflict_do_update(
                index_elements=[leases.c.location_id],
                set_={"holder": self.holder, "expires_at": expires},
                where=or_(leases.c.holder == self.holder, leases.c.expires_at < now),
            )
            await conn.execute(statement)
            found = await conn.execute(
                select(leases.c.holder).where(leases.c.location_id == self.location_id)
            )
            return str(found.scalar_one())

        current: str = await self._run(job)
        return current == self.holder

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until we hold the lease (True) or are told to stop (False)."""
        announced = False
        while not stop.is_set():
            if await self.try_acquire():
                log.info("lease acquired", holder=self.holder, ttl_s=self.ttl)
                return True
            self.waited = True
            if not announced:
                log.info("standby: another adapter holds this location's lease")
                announced = True
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
        return False

    async def keep(self) -> None:
        """Renew until cancelled; set ``lost`` and return when the lease is gone."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                held = await asyncio.wait_for(self.try_acquire(), self.ttl / 3)
            except Exception as exc:  # the store is unreachable: we cannot prove we hold it
                log.error("lease renewal failed", error=repr(exc))
                held = False
            if not held:
                log.error("lease lost: this adapter stops serving the location")
                self.lost.set()
                return

    async def release(self) -> None:
        """Give the lease up at a clean stop, so a standby takes over at once."""

        async def job(conn: AsyncConnection) -> None:
            await conn.execute(
                leases.delete().where(
                    leases.c.location_id == self.location_id, leases.c.holder == self.holder
                )
            )

        with suppress(Exception):
            await self._run(job)
