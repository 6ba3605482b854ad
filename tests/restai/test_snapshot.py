"""read_check: the visit, every order's lines, statuses, origin, discounts, totals."""

from __future__ import annotations

from pos_drivers import LineStatus, PosModifier
from pos_drivers.restai import RestaiDriver
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import item, line


async def test_full_check_of_a_busy_table(driver: RestaiDriver, fake: FakeRestai) -> None:
    lomo = item(
        fake,
        "Lomo Saltado",
        modifiers=[
            {"modifierId": fake.modifier_id("Término medio")},
            {"modifierId": fake.modifier_id("Huevo frito")},
        ],
    )
    waiter = await fake.staff_order_hook(
        3, [item(fake, "Ceviche Clásico", 2, notes="sin cebolla"), lomo, item(fake, "Causa Limeña")]
    )
    diner = await fake.diner_order_hook(3, [item(fake, "Chicha Morada", 3)])
    added = await driver.add_lines(
        "3", None, [line(fake, "Pisco Sour", ref="sub-1:oa-1", notes="bien frío")]
    )
    by_name = {i["name"]: i for i in fake.items.values() if i["order_id"] == waiter["id"]}
    await fake.order_status_hook(waiter["id"], "preparing")
    await fake.item_status_hook(by_name["Ceviche Clásico"]["id"], "ready")
    await fake.item_status_hook(by_name["Causa Limeña"]["id"], "cancelled", "cliente cambió")
    fake.discount_hook(waiter["id"], 1000)

    check = await driver.read_check("3")

    session = next(s for s in fake.sessions.values() if s["status"] == "active")
    assert check.order_id == session["id"] == added.order_id
    assert (check.currency, check.table_name) == ("PEN", "Mesa 3")
    lines = {(ln.name, ln.external_ref): ln for ln in check.lines}
    assert len(check.lines) == 5
    ceviche_line = lines[("Ceviche Clásico", None)]
    assert (
        ceviche_line.status,
        ceviche_line.quantity,
        ceviche_line.unit_price,
        ceviche_line.notes,
    ) == (LineStatus.READY, 2, 3500, "sin cebolla")
    lomo_line = lines[("Lomo Saltado", None)]
    assert lomo_line.status is LineStatus.PREPARING
    assert lomo_line.unit_price == 3800  # base price, modifiers apart
    assert sorted(lomo_line.modifiers, key=lambda m: m.name) == [
        PosModifier("Huevo frito", "Huevo frito", 1, 300),
        PosModifier("Término medio", "Término medio", 1, 0),
    ]
    assert lines[("Causa Limeña", None)].status is LineStatus.CANCELLED
    assert lines[("Chicha Morada", None)].external_ref is None  # a QR diner's line: POS side
    ours = lines[("Pisco Sour", "sub-1:oa-1")]
    assert (ours.notes, ours.status) == ("bien frío", LineStatus.PENDING)
    assert ours == added.lines[0]
    assert [(d.amount, d.line_id) for d in check.discounts] == [(1000, None)]
    orders = [
        fake.orders[waiter["id"]],
        fake.orders[diner["id"]],
        next(o for o in fake.orders.values() if o["created_by"] == fake.user().id),
    ]
    assert check.totals is not None
    assert check.totals.subtotal == sum(o["subtotal"] for o in orders)
    assert check.totals.subtotal == 2 * 3500 + (3800 + 300) + 3 * 800 + 2500  # Causa cancelled
    assert check.totals.discount_total == 1000
    assert check.totals.tax_total == sum(o["tax"] for o in orders)
    assert check.totals.total == sum(o["total"] for o in orders)
    assert check.totals.total == (
        check.totals.subtotal - check.totals.discount_total + check.totals.tax_total
    )


async def test_cancelled_orders_keep_their_lines_but_add_no_money(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    first = await fake.staff_order_hook(5, [item(fake, "Ceviche Clásico")])
    second = await fake.staff_order_hook(5, [item(fake, "Pisco Sour")])
    third = await fake.staff_order_hook(5, [item(fake, "Inca Kola 500ml")])
    await fake.order_status_hook(second["id"], "cancelled", "error del mozo")
    check = await driver.read_check("5")
    assert [(ln.name, ln.status) for ln in check.lines] == [  # oldest order first
        ("Ceviche Clásico", LineStatus.PENDING),
        ("Pisco Sour", LineStatus.CANCELLED),
        ("Inca Kola 500ml", LineStatus.PENDING),
    ]
    assert check.totals is not None
    assert check.totals.total == first["total"] + third["total"]


async def test_the_kitchen_cancelling_a_rounds_last_line_reads_as_cancelled(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    added = await driver.add_lines("12", None, [line(fake, "Pisco Sour", ref="k:1")])
    await fake.kitchen_cancel_hook(added.lines[0].line_id, "se acabó el pisco")
    assert next(iter(fake.orders.values()))["status"] == "cancelled"  # RestAI did that
    check = await driver.read_check("12")
    assert check.order_id == added.order_id
    assert [(ln.external_ref, ln.status) for ln in check.lines] == [("k:1", LineStatus.CANCELLED)]
    assert check.totals is not None
    assert check.totals.total == 0


async def test_paying_does_not_close_freeing_does(driver: RestaiDriver, fake: FakeRestai) -> None:
    order = await fake.staff_order_hook(6, [item(fake, "Ceviche Clásico")])
    fake.pay_hook(order["id"], order["total"])
    assert (await driver.read_check("6")).order_id is not None
    await fake.free_hook(6)
    check = await driver.read_check("6")
    assert (check.order_id, check.lines, check.totals) == (None, (), None)


async def test_a_visit_whose_orders_are_all_completed_is_closed(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    order = await fake.staff_order_hook(7, [item(fake, "Ceviche Clásico")])
    for status in ("preparing", "ready", "served", "completed"):
        await fake.order_status_hook(order["id"], status)
    assert (await driver.read_check("7")).order_id is None


async def test_a_pending_qr_request_is_no_check_but_a_seated_table_is(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await fake.pending_session_hook(8)
    assert (await driver.read_check("8")).order_id is None
    order = await fake.staff_order_hook(9, [item(fake, "Ceviche Clásico")])
    await fake.order_status_hook(order["id"], "cancelled")
    check = await driver.read_check("9")
    assert check.order_id is not None
    assert [ln.status for ln in check.lines] == [LineStatus.CANCELLED]


async def test_a_marker_copied_by_a_waiter_is_not_recognised(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    await fake.staff_order_hook(
        10, [item(fake, "Pisco Sour", notes="[oa:oa-1]")], notes="OpenApp [openapp:sub-1:]"
    )
    check = await driver.read_check("10")
    assert check.lines[0].external_ref is None
    assert check.lines[0].notes == "[oa:oa-1]"


async def test_unchanged_orders_are_not_fetched_again(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    order = await fake.staff_order_hook(11, [item(fake, "Ceviche Clásico")])
    path = f"/api/orders/{order['id']}"
    await driver.read_check("11")
    await driver.read_check("11")
    assert fake.count("GET", path) == 1
    line_id = next(i["id"] for i in fake.items.values() if i["order_id"] == order["id"])
    await fake.item_status_hook(line_id, "preparing")
    assert (await driver.read_check("11")).lines[0].status is LineStatus.PREPARING
    assert fake.count("GET", path) == 2
