"""A fleet of processes sharing the locations: the assignment (pure, property-tested) and
the rounds of members on a real PostgreSQL store."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.fleet import Fleet, assign
from adapter.store import SqlStore, insert_for

names = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=6)


@given(locations=st.sets(names, max_size=40), members=st.sets(names, min_size=1, max_size=7))
def test_every_location_goes_to_a_member_and_the_shares_are_even(
    locations: set[str], members: set[str]
) -> None:
    owners = assign(locations, members)

    assert set(owners) == locations
    assert set(owners.values()) <= members
    shares = Counter(owners.values())
    low, high = divmod(len(locations), len(members))
    for member in members:
        assert low <= shares[member] <= low + (1 if high else 0)


@given(locations=st.sets(names, min_size=1, max_size=40),
       members=st.sets(names, min_size=1, max_size=6), newcomer=names)
def test_a_member_joining_moves_only_what_it_takes(
    locations: set[str], members: set[str], newcomer: str
) -> None:
    before = assign(locations, members)

    after = assign(locations, members | {newcomer}, holders=before)

    moved = {location for location in locations if before[location] != after[location]}
    assert all(after[location] == newcomer for location in moved)
    if newcomer not in members:
        assert len(moved) == len(locations) // (len(members) + 1)


@given(locations=st.sets(names, min_size=1, max_size=40),
       members=st.sets(names, min_size=2, max_size=6), data=st.data())
def test_a_member_leaving_leaves_the_others_their_locations(
    locations: set[str], members: set[str], data: st.DataObject
) -> None:
    before = assign(locations, members)
    gone = data.draw(st.sampled_from(sorted(members)))

    after = assign(locations, members - {gone}, holders=before)

    for location, owner in before.items():
        if owner != gone:
            assert after[location] == owner


def test_the_same_view_gives_the_same_assignment() -> None:
    locations = [f"loc-{n}" for n in range(20)]
    members = ["b", "a", "c"]

    assert assign(locations, members) == assign(reversed(locations), sorted(members))


class Member:
    """A member's fleet, with the locations it serves as the callbacks leave them."""

    def __init__(self, store: SqlStore, locations: list[str], name: str, ttl: float) -> None:
        self.serving: set[str] = set()
        self.fleet = Fleet(store.run_in_transaction, insert_for(store.url), locations,
                           ttl=ttl, take=self.take, give=self.give, drop=self.drop,
                           member=name)

    async def take(self, location: str) -> bool:
        self.serving.add(location)
        return True

    async def give(self, location: str) -> None:
        self.serving.discard(location)

    async def drop(self, location: str) -> None:
        self.serving.discard(location)

    async def settle(self) -> None:
        """A round, then the handovers it started."""
        await self.fleet.round()
        await asyncio.gather(*self.fleet._giving.values())


@pytest.fixture
async def shared(postgres_url: str) -> AsyncIterator[SqlStore]:
    from tests.conftest import _create_database, _drop_database

    name, url = await _create_database(postgres_url)
    store = SqlStore(url)
    await store.start()
    try:
        yield store
    finally:
        await store.close()
        await _drop_database(postgres_url, name)


@pytest.mark.postgres
async def test_members_share_the_locations_and_take_over_a_dead_ones(shared: SqlStore) -> None:
    locations = [f"loc-{n}" for n in range(7)]
    a, b, c = (Member(shared, locations, name, ttl=1.0) for name in "abc")

    await a.settle()
    assert a.serving == set(locations)  # alone: everything
    for _ in range(2):  # b joins: a hands its share over, b takes it
        await b.settle()
        await a.settle()
    await b.settle()
    assert sorted(map(len, (a.serving, b.serving))) == [3, 4]
    assert a.serving.isdisjoint(b.serving)

    for _ in range(2):
        for member in (c, a, b):
            await member.settle()
    await c.settle()
    assert sorted(map(len, (a.serving, b.serving, c.serving))) == [2, 2, 3]
    assert a.serving | b.serving | c.serving == set(locations)

    orphaned = set(c.serving)  # c dies: no more rounds, no clean leave
    await asyncio.sleep(1.1)  # its heartbeat and leases expire (the TTL is the point here)
    for _ in range(2):
        await a.settle()
        await b.settle()
    assert a.serving | b.serving == set(locations)
    assert orphaned <= a.serving | b.serving
    assert sorted(map(len, (a.serving, b.serving))) == [3, 4]


@pytest.mark.postgres
async def test_a_member_leaving_cleanly_hands_everything_over(shared: SqlStore) -> None:
    locations = [f"loc-{n}" for n in range(4)]
    a, b = (Member(shared, locations, name, ttl=30.0) for name in "ab")
    for _ in range(2):
        await a.settle()
        await b.settle()
    assert len(a.serving) == len(b.serving) == 2

    await a.fleet.leave(grace=1.0)
    await b.settle()

    assert a.serving == set()
    assert b.serving == set(locations)  # no waiting for a's TTL (30 s)
