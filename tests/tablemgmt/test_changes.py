"""changes_since: one occupied-list request per call, the tables whose entry changed,
under every name the adapter used for them."""

from __future__ import annotations

import pytest

from pos_drivers import CursorExpired, PosUnavailable
from pos_drivers.tablemgmt import SEED_OUTLET_ID, TableMgmtControl, TableMgmtDriver
from tests.tablemgmt.conftest import MakeDriver

OCCUPIED = f"/api/v1/outlets/{SEED_OUTLET_ID}/tables/occupied"


async def test_without_a_cursor_every_occupied_table(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await control.open_order(table_ids["Table 3"])
    await control.open_order(table_ids["Table 14"], [{"product_id": "es-teh"}])

    changed = await driver.changes_since(None)

    assert changed.table_ids == {table_ids["Table 3"], "Table 3", table_ids["Table 14"],
                                 "Table 14"}
    assert changed.cursor


async def test_one_request_per_call_whatever_the_number_of_tables(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    for n in range(1, 21):
        await control.open_order(table_ids[f"Table {n}"], [{"product_id": "es-teh"}])
        await driver.read_check(f"Table {n}")
    await control.clear_requests()

    cursor = (await driver.changes_since(None)).cursor
    for n in range(1, 21):
        await control.add_item(table_ids[f"Table {n}"], "kopi-susu")
    changed = await driver.changes_since(cursor)

    assert len(changed.table_ids) == 40  # 20 tables, each by id and by name
    assert await control.requests() == {f"GET {OCCUPIED}": 2}


async def test_nothing_changed_nothing_reported(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await control.open_order(table_ids["Table 3"], [{"product_id": "es-teh"}])
    first = await driver.changes_since(None)

    second = await driver.changes_since(first.cursor)

    assert second.table_ids == frozenset()
    assert second.cursor != first.cursor


@pytest.mark.parametrize("act", ["add", "cancel", "serve", "quantity", "delete", "discount"])
async def test_any_change_of_the_embedded_order_is_reported(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str], act: str
) -> None:
    table = table_ids["Table 5"]
    order = await control.open_order(table, [{"product_id": "sate-ayam"}])
    await control.open_order(table_ids["Table 6"], [{"product_id": "es-teh"}])
    item = order["order_items"][0]["id"]
    cursor = (await driver.changes_since(None)).cursor

    if act == "add":
        await control.add_item(table, "es-teh")
    elif act == "cancel":
        await control.cancel_item(item)
    elif act == "serve":
        await control.serve_item(item)
    elif act == "quantity":
        await control.update_item(item, quantity=3)
    elif act == "delete":
        await control.delete_item(item)
    else:
        await control.update_order(table, discount_amount="1000")

    assert (await driver.changes_since(cursor)).table_ids == {table, "Table 5"}


async def test_a_released_table_and_a_new_order_are_reported(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    await control.open_order(table_ids["Table 1"], [{"product_id": "es-teh"}])
    await control.open_order(table_ids["Table 2"], [{"product_id": "es-teh"}])
    cursor = (await driver.changes_since(None)).cursor

    await control.release(table_ids["Table 1"])
    await control.release(table_ids["Table 2"])
    await control.open_order(table_ids["Table 2"], [{"product_id": "es-teh"}])
    changed = await driver.changes_since(cursor)

    assert changed.table_ids == {table_ids["Table 1"], "Table 1", table_ids["Table 2"], "Table 2"}


async def test_tables_are_reported_under_the_names_the_adapter_used(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    table = table_ids["Table 9"]
    await driver.read_check("Table 9")
    await driver.read_check(table)
    await control.set_table(table, table_name="Window 9")
    cursor = (await driver.changes_since(None)).cursor

    await control.open_order(table)
    changed = await driver.changes_since(cursor)

    assert changed.table_ids == {table, "Table 9", "Window 9"}


async def test_an_unknown_cursor_has_expired(driver: TableMgmtDriver) -> None:
    with pytest.raises(CursorExpired):
        await driver.changes_since("not-a-cursor")


async def test_a_cursor_of_another_driver_instance_has_expired(
    driver: TableMgmtDriver, make_driver: MakeDriver
) -> None:
    cursor = (await driver.changes_since(None)).cursor
    assert cursor is not None
    async with make_driver() as other:
        with pytest.raises(CursorExpired):
            await other.changes_since(cursor)


async def test_a_failed_poll_keeps_the_cursor(
    driver: TableMgmtDriver, control: TableMgmtControl, table_ids: dict[str, str]
) -> None:
    cursor = (await driver.changes_since(None)).cursor
    await control.open_order(table_ids["Table 4"])
    await control.set_faults(down=True)
    with pytest.raises(PosUnavailable):
        await driver.changes_since(cursor)
    await control.set_faults()

    assert (await driver.changes_since(cursor)).table_ids == {table_ids["Table 4"], "Table 4"}
