"""find_lines: what an earlier attempt left on RestAI, seen by a fresh driver (a crash)."""

from __future__ import annotations

from pos_drivers import LineStatus
from pos_drivers.restai import RestaiDriver
from tests.restai.conftest import make_driver
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item, line


async def test_a_restarted_adapter_finds_the_lines_of_a_submission(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await fake.staff_order_hook(3, [item(fake, "Causa Limeña", notes="[oa:x]")])
    added = await driver.add_lines(
        "3",
        None,
        [
            line(fake, "Ceviche Clásico", ref="sub-7:line-1", notes="sin ají"),
            line(fake, "Pisco Sour", 2, ref="sub-7:line-2"),
        ],
    )
    await driver.add_lines("3", added.order_id, [line(fake, "Pisco Sour", ref="sub-77:line-1")])
    async with make_driver(fake) as restarted:  # nothing in memory from the first driver
        found = await restarted.find_lines(fake.table(3)["qr_code"], "sub-7:")
        assert sorted(found, key=lambda ln: ln.external_ref or "") == list(added.lines)
        assert await restarted.find_lines("3", "sub-8:") == ()
        check = await restarted.read_check("3")
    refs = [ln.external_ref for ln in check.lines]  # oldest order first
    assert refs[0] is None  # the waiter's copied "[oa:x]" is not ours
    assert sorted(ref or "" for ref in refs[1:3]) == ["sub-7:line-1", "sub-7:line-2"]
    assert refs[3] == "sub-77:line-1"


async def test_lines_cancelled_on_restai_are_still_found(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    added = await driver.add_lines(
        "4",
        None,
        [line(fake, "Pisco Sour", ref="sub-9:a"), line(fake, "Pisco Sour", ref="sub-9:b")],
    )
    await fake.kitchen_cancel_hook(added.lines[0].line_id, "se acabó el pisco")
    order_id = next(iter(fake.orders))
    await fake.order_status_hook(order_id, "cancelled", "cliente se fue")
    found = await driver.find_lines("4", "sub-9:")
    assert sorted((ln.external_ref or "", ln.status) for ln in found) == [
        ("sub-9:a", LineStatus.CANCELLED),
        ("sub-9:b", LineStatus.CANCELLED),
    ]


async def test_lines_of_a_moved_visit_are_found_from_the_old_table(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await driver.add_lines("5", None, [line(fake, "Pisco Sour", ref="sub-5:a")])
    session = next(iter(fake.sessions.values()))
    session["table_id"] = fake.table(6)["id"]  # a waiter moved the visit to table 6
    found = await driver.find_lines("5", "sub-5:")
    assert [ln.external_ref for ln in found] == ["sub-5:a"]
