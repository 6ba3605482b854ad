"""add_lines: new visit, more rounds, 100 lines at once, every refusal, every race."""

from __future__ import annotations

import pytest

from pos_drivers import (
    DuplicateReference,
    ItemReason,
    ItemsRejected,
    LineStatus,
    NewLine,
    OrderClosed,
    PosUnavailable,
    TableNotFound,
)
from pos_drivers.restai import RestaiDriver
from pos_drivers.restai._markers import UNDO_REASON
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item, line


async def test_a_free_table_gets_a_new_visit(driver: RestaiDriver, fake: FakeRestai) -> None:
    lines = [
        line(fake, "Ceviche Clásico", 2, ref="sub-1:a", notes="sin ají"),
        line(fake, "Pisco Sour", ref="sub-1:b"),
    ]
    added = await driver.add_lines("2", None, lines)
    session = next(iter(fake.sessions.values()))
    assert added.order_id == session["id"]
    assert fake.table(2)["status"] == "occupied"
    assert [(ln.name, ln.quantity, ln.external_ref, ln.notes) for ln in added.lines] == [
        ("Ceviche Clásico", 2, "sub-1:a", "sin ají"),
        ("Pisco Sour", 1, "sub-1:b", None),
    ]
    check = await driver.read_check("2")
    assert check.order_id == added.order_id
    assert sorted(check.lines, key=lambda ln: ln.external_ref or "") == list(added.lines)
    order = next(iter(fake.orders.values()))
    assert order["notes"] == "OpenApp [openapp:sub-1:]"
    assert sorted(i["notes"] for i in fake.items.values()) == ["[oa:b]", "sin ají [oa:a]"]


async def test_each_submission_is_a_new_round_of_the_same_visit(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await fake.staff_order_hook(3, [item(fake, "Causa Limeña")])
    visit = (await driver.read_check("3")).order_id
    first = await driver.add_lines("3", visit, [line(fake, "Pisco Sour", ref="s-1:a")])
    second = await driver.add_lines("3", visit, [line(fake, "Pisco Sour", ref="s-2:a")])
    assert first.order_id == second.order_id == visit
    check = await driver.read_check("3")
    assert [ln.external_ref for ln in check.lines] == [None, "s-1:a", "s-2:a"]
    assert len(fake.orders) == 3


async def test_a_hundred_lines_go_in_one_atomic_call(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    names = ["Ceviche Clásico", "Causa Limeña", "Chicha Morada", "Pisco Sour"]
    lines = [line(fake, names[i % 4], 1 + i % 3, ref=f"big:{i:03d}") for i in range(100)]
    added = await driver.add_lines("4", None, lines)
    assert fake.count("POST", "/api/orders") == 1
    assert [ln.external_ref for ln in added.lines] == [f"big:{i:03d}" for i in range(100)]
    assert [(ln.product_id, ln.quantity) for ln in added.lines] == [
        (ln.product_id, ln.quantity) for ln in lines
    ]
    check = await driver.read_check("4")
    assert {ln.external_ref: ln for ln in check.lines} == {
        ln.external_ref: ln for ln in added.lines
    }


async def test_modifier_lines_come_back_as_reads_show_them(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    lomo = line(fake, "Lomo Saltado", ref="m:1", modifiers=("Bien cocido", "Plátano"))
    added = await driver.add_lines("5", None, [lomo])
    assert {m.name for m in added.lines[0].modifiers} == {"Bien cocido", "Plátano"}
    assert (await driver.read_check("5")).lines == added.lines


async def test_the_expected_visit_must_be_the_open_one(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    with pytest.raises(OrderClosed):
        await driver.add_lines("6", "some-old-visit", [line(fake, "Pisco Sour", ref="x:1")])
    order = await fake.staff_order_hook(6, [item(fake, "Pisco Sour")])
    visit = (await driver.read_check("6")).order_id
    for status in ("preparing", "ready", "served", "completed"):
        await fake.order_status_hook(order["id"], status)
    with pytest.raises(OrderClosed):
        await driver.add_lines("6", visit, [line(fake, "Pisco Sour", ref="x:1")])
    assert fake.count("POST", "/api/orders") == 0


async def test_menu_problems_are_all_reported_at_once(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    fake.menu[fake.item_id("Causa Limeña")]["is_available"] = False
    lines = [
        line(fake, "Ceviche Clásico", ref="r:0", price=3000),
        line(fake, "Pisco Sour", ref="r:1"),
        line(fake, "Causa Limeña", ref="r:2"),
    ]
    lines.append(NewLine(product_id="no-such-dish", quantity=1, unit_price=100, external_ref="r:3"))
    with pytest.raises(ItemsRejected) as caught:
        await driver.add_lines("7", None, lines)
    found = {(r.index, r.reason, r.current_unit_price) for r in caught.value.rejections}
    assert found == {
        (0, ItemReason.PRICE_CHANGED, 3500),
        (2, ItemReason.DELISTED, None),
        (3, ItemReason.UNKNOWN_PRODUCT, None),
    }
    assert fake.count("POST", "/api/orders") == 0


async def test_an_item_delisted_in_the_meantime(driver: RestaiDriver, fake: FakeRestai) -> None:
    async def delist() -> None:
        fake.menu[fake.item_id("Pisco Sour")]["is_available"] = False

    fake.before_next("POST", "/api/orders", delist)
    lines = [line(fake, "Ceviche Clásico", ref="d:0"), line(fake, "Pisco Sour", ref="d:1")]
    with pytest.raises(ItemsRejected) as caught:
        await driver.add_lines("8", None, lines)
    [rejection] = caught.value.rejections
    assert (rejection.index, rejection.reason) == (1, ItemReason.DELISTED)
    assert rejection.pos_detail == "400 BAD_REQUEST: Item no disponible: Pisco Sour"
    assert fake.orders == {}
    assert (await driver.read_check("8")).order_id is None


async def test_an_item_deleted_in_the_meantime(driver: RestaiDriver, fake: FakeRestai) -> None:
    gone = fake.item_id("Pisco Sour")

    async def delete() -> None:
        fake.menu[gone]["deleted_at"] = "2026-11-21T20:00:00Z"

    fake.before_next("POST", "/api/orders", delete)
    with pytest.raises(ItemsRejected) as caught:
        await driver.add_lines("8", None, [line(fake, "Pisco Sour", ref="d:1")])
    [rejection] = caught.value.rejections
    assert rejection.reason is ItemReason.UNKNOWN_PRODUCT
    assert rejection.pos_detail == f"400 BAD_REQUEST: Item no encontrado: {gone}"


@pytest.mark.parametrize(
    ("modifiers", "reason", "detail"),
    [
        (
            (),
            ItemReason.UNKNOWN_PRODUCT,
            'Selección insuficiente de modificadores para "Lomo Saltado"',
        ),
        (
            ("Término medio", "Bien cocido"),
            ItemReason.UNKNOWN_PRODUCT,
            'Demasiados modificadores seleccionados para "Lomo Saltado"',
        ),
        (
            ("Término medio", "Huevo frito"),
            ItemReason.DELISTED,
            "Modificador no disponible: Huevo frito",
        ),
    ],
)
async def test_modifier_refusals(
    driver: RestaiDriver,
    fake: FakeRestai,
    modifiers: tuple[str, ...],
    reason: ItemReason,
    detail: str,
) -> None:
    for group in fake.groups.values():
        for modifier in group["modifiers"]:
            if modifier["name"] == "Huevo frito":
                modifier["is_available"] = False
    lomo = line(fake, "Lomo Saltado", ref="mod:1", modifiers=modifiers)
    with pytest.raises(ItemsRejected) as caught:
        await driver.add_lines("9", None, [line(fake, "Pisco Sour", ref="mod:0"), lomo])
    [rejection] = caught.value.rejections
    assert (rejection.index, rejection.reason) == (1, reason)
    assert rejection.pos_detail == f"400 BAD_REQUEST: {detail}"


async def test_a_price_changed_in_the_meantime_is_undone(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    async def raise_price() -> None:
        fake.menu[fake.item_id("Pisco Sour")]["price"] = 2900

    fake.before_next("POST", "/api/orders", raise_price)
    lines = [line(fake, "Ceviche Clásico", ref="p:0"), line(fake, "Pisco Sour", ref="p:1")]
    with pytest.raises(ItemsRejected) as caught:
        await driver.add_lines("10", None, lines)
    [rejection] = caught.value.rejections
    assert (rejection.index, rejection.reason, rejection.current_unit_price) == (
        1,
        ItemReason.PRICE_CHANGED,
        2900,
    )
    [order] = fake.orders.values()
    assert order["status"] == "cancelled"
    assert {i["cancel_reason"] for i in fake.items.values()} == {UNDO_REASON}
    assert fake.table(10)["status"] == "available"  # the visit it opened is freed again
    assert (await driver.read_check("10")).order_id is None
    assert await driver.find_lines("10", "p:") == ()


async def test_a_visit_closed_in_the_meantime_is_order_closed(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await fake.staff_order_hook(11, [item(fake, "Causa Limeña")])
    visit = (await driver.read_check("11")).order_id

    async def free() -> None:
        await fake.free_hook(11)

    fake.before_next("POST", "/api/orders", free)
    with pytest.raises(OrderClosed):
        await driver.add_lines("11", visit, [line(fake, "Pisco Sour", ref="c:1")])
    ours = [o for o in fake.orders.values() if o["notes"]]
    assert [o["status"] for o in ours] == ["cancelled"]
    assert (await driver.read_check("11")).order_id is None


async def test_a_table_deleted_in_the_meantime(driver: RestaiDriver, fake: FakeRestai) -> None:
    async def delete() -> None:
        del fake.tables[fake.table(12)["id"]]

    fake.before_next("POST", "/api/orders", delete)
    with pytest.raises(TableNotFound) as caught:
        await driver.add_lines("12", None, [line(fake, "Pisco Sour", ref="t:1")])
    assert caught.value.pos_detail == "404 NOT_FOUND: Mesa no encontrada en esta sede"


async def test_rate_limited_submission_applies_nothing(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    fake.fail_next(429, retry_after="60", method="POST", path="/api/orders")
    with pytest.raises(PosUnavailable) as caught:
        await driver.add_lines("13", None, [line(fake, "Pisco Sour", ref="rl:1")])
    assert caught.value.retry_after == 60.0
    assert fake.orders == {}


async def test_a_reference_already_on_the_check_is_a_duplicate(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    first = await driver.add_lines("14", None, [line(fake, "Pisco Sour", ref="dup:1")])
    with pytest.raises(DuplicateReference) as caught:
        await driver.add_lines(
            "14",
            first.order_id,
            [line(fake, "Pisco Sour", ref="dup:1"), line(fake, "Pisco Sour", ref="dup:2")],
        )
    assert caught.value.existing == first.lines
    assert len(fake.orders) == 1


async def test_long_notes_are_shortened_to_fit_the_marker(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    long_notes = "sin cebolla, " * 38 + "ok"  # 496 characters
    added = await driver.add_lines(
        "1", None, [line(fake, "Pisco Sour", ref="n:1", notes=long_notes)]
    )
    [stored] = fake.items.values()
    assert len(stored["notes"]) == 500
    assert added.lines[0].notes is not None
    assert added.lines[0].notes.endswith("…")
    assert (await driver.read_check("1")).lines == added.lines
    assert added.lines[0].status is LineStatus.PENDING
