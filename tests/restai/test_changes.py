"""changes_since: the polling net under the WebSocket (payments send no event)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pos_drivers import CursorExpired
from pos_drivers.restai import RestaiDriver
from tests.restai.conftest import make_driver
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item


@pytest.fixture
async def polling(fake: FakeRestai) -> AsyncIterator[RestaiDriver]:
    """A driver that re-reads line statuses on every poll."""
    async with make_driver(fake, deep_poll_interval="0") as driver:
        yield driver


async def test_first_poll_lists_every_table_asked_about(
    polling: RestaiDriver, fake: FakeRestai
) -> None:
    qr = fake.table(3)["qr_code"]
    await polling.read_check(qr)
    await polling.read_check("4")
    first = await polling.changes_since(None)
    assert first.table_ids == {qr, "4"}
    assert first.cursor is not None
    assert (await polling.changes_since(first.cursor)).table_ids == frozenset()


async def test_a_payment_without_event_is_caught(polling: RestaiDriver, fake: FakeRestai) -> None:
    order = await fake.staff_order_hook(3, [item(fake, "Ceviche Clásico")])
    await polling.read_check("3")
    cursor = (await polling.changes_since(None)).cursor
    fake.pay_hook(order["id"], 1000)
    changed = await polling.changes_since(cursor)
    assert changed.table_ids == {"3"}


async def test_new_orders_are_caught_for_watched_tables_only(
    polling: RestaiDriver, fake: FakeRestai
) -> None:
    await polling.read_check("3")
    cursor = (await polling.changes_since(None)).cursor
    await fake.staff_order_hook(3, [item(fake, "Ceviche Clásico")])
    await fake.staff_order_hook(9, [item(fake, "Ceviche Clásico")])
    assert (await polling.changes_since(cursor)).table_ids == {"3"}


async def test_line_status_changes_need_the_deep_poll(fake: FakeRestai) -> None:
    order = await fake.staff_order_hook(5, [item(fake, "Ceviche Clásico")])
    line_id = next(i["id"] for i in fake.items.values() if i["order_id"] == order["id"])
    async with (
        make_driver(fake) as shallow,
        make_driver(fake, deep_poll_interval="0") as deep,
    ):
        for driver in (shallow, deep):
            await driver.read_check("5")
        cursors = [(await d.changes_since(None)).cursor for d in (shallow, deep)]
        await fake.item_status_hook(line_id, "ready")  # touches no order row
        assert (await shallow.changes_since(cursors[0])).table_ids == frozenset()
        assert (await deep.changes_since(cursors[1])).table_ids == {"5"}


async def test_a_freed_table_is_caught(polling: RestaiDriver, fake: FakeRestai) -> None:
    await fake.staff_order_hook(6, [item(fake, "Ceviche Clásico")])
    await polling.read_check("6")
    cursor = (await polling.changes_since(None)).cursor
    await fake.free_hook(6)
    assert (await polling.changes_since(cursor)).table_ids == {"6"}


async def test_cursors_of_other_processes_are_expired(
    polling: RestaiDriver, fake: FakeRestai
) -> None:
    with pytest.raises(CursorExpired):
        await polling.changes_since("someone-else:3")
    cursor = (await polling.changes_since(None)).cursor
    assert cursor is not None
    async with make_driver(fake) as restarted:
        with pytest.raises(CursorExpired):
            await restarted.changes_since(cursor)
    older = cursor
    for _ in range(10):
        cursor = (await polling.changes_since(cursor)).cursor
    with pytest.raises(CursorExpired):
        await polling.changes_since(older)  # too old: only the last few are kept
