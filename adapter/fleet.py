"""A fleet: several identical processes sharing the locations of one file on one
PostgreSQL store, with no coordinator of their own.

- **Members.** Every process keeps a row in ``members`` with a heartbeat (the store's
  clock), renewed every third of ``POS_ADAPTER_LEASE_TTL``; the live members are those
  whose heartbeat is younger than the TTL.
- **Assignment.** Every process computes the same assignment from the same inputs
  (:func:`assign`): the locations spread over the live members by rendezvous hashing
  with quotas, so each of P members gets ``floor(M/P)`` or ``ceil(M/P)`` of M locations,
  and a member joining or leaving moves few locations.
- **Leases.** Serving a location takes its lease (a row in ``leases``, renewed with the
  heartbeat in the same transaction); a location is served by its lease holder only.
  Views of the live members can differ for a moment: the lease settles it. A process
  hands a location it should no longer serve over gracefully (no new commands, in-flight
  ones finished, its messages out) and then releases the lease; the new owner takes it
  on its next round. A process that dies (kill -9) stops renewing: its leases expire
  after the TTL and the others take them over, then go on with the streams' next
  sequence numbers from the store.
- **Safety.** A process that could not renew its leases for a TTL stops serving them at
  once: it cannot prove it still holds them. The command queues are quorum queues with
  single active consumer, so the broker never gives one location's commands to two
  consumers at once either.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, or_, select, update

from adapter.store import AsyncConnection, Insert, leases, members

log = structlog.get_logger("pos_adapter.fleet")

Job = Callable[[AsyncConnection], Awaitable[Any]]
RunInTransaction = Callable[[Job], Awaitable[Any]]
Take = Callable[[str], Awaitable[bool]]
Stop = Callable[[str], Awaitable[None]]
FORGET_MEMBERS_AFTER = 10
"""TTLs after which a member's row is deleted (it is long dead)."""


def member_name() -> str:
    """Who we are, readable in the store: host, process, and a nonce for restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def assign(
    locations: Iterable[str], members: Iterable[str], holders: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each location's member: balanced, sticky rendezvous hashing.

    Each member may take ``floor(M/P)`` locations, and ``M mod P`` of them one more (those
    holding the most now, then by name). A location stays with its live holder while the
    holder has room; the others go, in name order, to the member that ranks them highest
    (rendezvous hashing) among those with room left. Pure and deterministic: every process
    that sees the same members and holders computes the same assignment, and a member
    joining or leaving moves only the locations it must.
    """
    ordered = sorted(set(members))
    places = sorted(set(locations))
    if not ordered:
        return {}
    current = {loc: m for loc, m in (holders or {}).items() if m in ordered and loc in places}
    held = {member: sum(1 for m in current.values() if m == member) for member in ordered}
    base, extra = divmod(len(places), len(ordered))
    by_holdings = sorted(ordered, key=lambda member: (-held[member], member))
    room = {member: base + (1 if rank < extra else 0) for rank, member in enumerate(by_holdings)}
    owners: dict[str, str] = {}
    for location in places:
        holder = current.get(location)
        if holder is not None and room[holder] > 0:
            owners[location] = holder
            room[holder] -= 1
    for location in places:
        if location in owners:
            continue
        ranked = sorted(ordered, key=lambda member: _score(location, member), reverse=True)
        owner = next(member for member in ranked if room[member] > 0)
        room[owner] -= 1
        owners[location] = owner
    return owners


def _score(location: str, member: str) -> int:
    digest = hashlib.blake2b(f"{location}\0{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Fleet:
    """The locations this member serves, taken and given up round after round.

    ``take(location)`` starts serving it (False: it could not, the lease goes back);
    ``give(location)`` stops serving it gracefully before its lease is released;
    ``drop(location)`` stops serving it at once (its lease is lost).
    """

    def __init__(
        self,
        run: RunInTransaction,
        insert: Insert,
        locations: Sequence[str],
        *,
        ttl: float,
        take: Take,
        give: Stop,
        drop: Stop,
        member: str | None = None,
    ) -> None:
        self._run = run
        self._insert = insert
        self.locations = tuple(locations)
        self.ttl = ttl
        self._take, self._give, self._drop = take, give, drop
        self.member = member or member_name()
        self.held: set[str] = set()
        self._giving: dict[str, asyncio.Task[None]] = {}
        self._held_until = 0.0
        self._standing_by: set[str] = set()
        self.rounds = 0

    async def run(self) -> None:
        """A round every third of the TTL, until cancelled."""
        while True:
            await self.round()
            await asyncio.sleep(self.ttl / 3)

    async def round(self) -> None:
        started = time.monotonic()
        try:
            live, holders, renewed = await self._run(self._heartbeat)
        except Exception as exc:
            log.error("fleet round failed: the store is out of reach", error=repr(exc))
            if self.held and time.monotonic() >= self._held_until:
                log.error("leases not renewed within their TTL: no longer serving",
                          locations=sorted(self.held))
                await self._lose(set(self.held))
            return
        self._held_until = started + self.ttl
        await self._lose(self.held - renewed)
        self._note_standby(holders)
        owners = assign(self.locations, live, holders)
        desired = {location for location, owner in owners.items() if owner == self.member}
        for location in self.held - desired - self._giving.keys():
            self._giving[location] = asyncio.create_task(self._hand_over(location))
        await self._take_free(desired - self.held)
        self.rounds += 1

    async def leave(self, grace: float) -> None:
        """A clean stop: out of the members, every location given up, leases released."""
        try:
            await self._run(self._forget_member)
        except Exception as exc:
            log.warning("could not leave the fleet's members", error=repr(exc))
        for task in self._giving.values():
            task.cancel()
        await asyncio.gather(*self._giving.values(), return_exceptions=True)
        held, self.held = set(self.held), set()
        await asyncio.gather(*(self._give(location) for location in held))
        await self._release(held)

    # -- steps ---------------------------------------------------------------------------

    async def _lose(self, lost: set[str]) -> None:
        for location in lost:
            log.error("lease lost: no longer serving the location", locationId=location)
            self.held.discard(location)
            giving = self._giving.pop(location, None)
            if giving is not None:
                giving.cancel()
        await asyncio.gather(*(self._drop(location) for location in lost))

    async def _hand_over(self, location: str) -> None:
        log.info("handing the location over to another member", locationId=location)
        try:
            await self._give(location)
            await self._release({location})
        finally:
            self.held.discard(location)
            self._giving.pop(location, None)

    async def _take_free(self, wanted: set[str]) -> None:
        if not wanted:
            return
        acquired: set[str] = await self._run(lambda conn: self._acquire(conn, wanted))
        started = await asyncio.gather(*(self._take(location) for location in sorted(acquired)))
        refused = {location for location, ok in zip(sorted(acquired), started, strict=True)
                   if not ok}
        self.held |= acquired - refused
        if refused:
            await self._release(refused)

    def _note_standby(self, holders: Mapping[str, str]) -> None:
        """Say once which locations another member serves (this one stands by for them)."""
        others = {loc for loc, holder in holders.items()
                  if holder != self.member and loc in self.locations}
        for location in sorted(others - self._standing_by):
            log.info("standby: another adapter holds this location's lease", locationId=location)
        self._standing_by = others

    async def _release(self, locations: set[str]) -> None:
        if not locations:
            return
        try:
            await self._run(lambda conn: conn.execute(delete(leases).where(
                leases.c.holder == self.member, leases.c.location_id.in_(sorted(locations)))))
        except Exception as exc:  # the leases then expire after their TTL
            log.warning("could not release leases", error=repr(exc))

    # -- statements (one transaction each) -------------------------------------------------

    async def _heartbeat(
        self, conn: AsyncConnection
    ) -> tuple[list[str], dict[str, str], set[str]]:
        """Our heartbeat; the live members, who holds each location, which of our leases
        we renewed."""
        ttl = timedelta(seconds=self.ttl)
        beat = self._insert(members).values(
            member_id=self.member, started_at=func.now(), heartbeat_at=func.now())
        await conn.execute(beat.on_conflict_do_update(
            index_elements=[members.c.member_id], set_={"heartbeat_at": func.now()}))
        await conn.execute(delete(members).where(
            members.c.heartbeat_at < func.now() - ttl * FORGET_MEMBERS_AFTER))
        live = (await conn.execute(select(members.c.member_id).where(
            members.c.heartbeat_at > func.now() - ttl))).scalars().all()
        renewed: set[str] = set()
        if self.held:
            result = await conn.execute(
                update(leases)
                .where(leases.c.holder == self.member,
                       leases.c.location_id.in_(sorted(self.held)))
                .values(expires_at=func.now() + ttl)
                .returning(leases.c.location_id)
            )
            renewed = set(result.scalars())
        holders = (await conn.execute(select(leases.c.location_id, leases.c.holder).where(
            leases.c.expires_at > func.now()))).all()
        return list(live), {location: holder for location, holder in holders}, renewed

    async def _acquire(self, conn: AsyncConnection, wanted: set[str]) -> set[str]:
        """Take the leases of ``wanted`` that are free, expired or ours."""
        expires = func.now() + timedelta(seconds=self.ttl)
        statement = self._insert(leases).values(
            [{"location_id": location, "holder": self.member, "expires_at": expires}
             for location in sorted(wanted)])
        statement = statement.on_conflict_do_update(
            index_elements=[leases.c.location_id],
            set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
            where=or_(leases.c.expires_at < func.now(), leases.c.holder == self.member),
        ).returning(leases.c.location_id)
        return set((await conn.execute(statement)).scalars())

    async def _forget_member(self, conn: AsyncConnection) -> None:
        await conn.execute(delete(members).where(members.c.member_id == self.member))


