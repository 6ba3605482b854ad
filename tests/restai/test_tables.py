"""posTableId as number, qr_code, short_code or UUID; cache refresh on a miss."""

from __future__ import annotations

import uuid

import pytest

from pos_drivers import TableNotFound, TableUnavailable
from pos_drivers.restai import RestaiDriver
from tests.restai.conftest import make_driver
from tests.restai.fake_restai import FakeRestai
from tests.restai.helpers import line


async def test_every_name_of_a_table_resolves(driver: RestaiDriver, fake: FakeRestai) -> None:
    table = fake.table(3)
    for alias in (
        "3",
        table["qr_code"],
        table["short_code"],
        table["short_code"].lower(),
        table["id"],
    ):
        check = await driver.read_check(alias)
        assert (check.table_id, check.table_name) == (alias, "Mesa 3")


async def test_unknown_table_is_not_found(driver: RestaiDriver) -> None:
    with pytest.raises(TableNotFound):
        await driver.read_check("99")


async def test_a_new_table_is_found_by_refreshing_the_cache(fake: FakeRestai) -> None:
    async with make_driver(fake, table_refresh_interval="0") as driver:
        await driver.read_check("1")
        row = {
            **fake.table(1),
            "id": str(uuid.uuid4()),
            "number": 15,
            "qr_code": "qr-15",
            "short_code": "ZZZZZ",
        }
        fake.tables[row["id"]] = row
        assert (await driver.read_check("qr-15")).table_name == "Mesa 15"


async def test_misses_do_not_hammer_restai(driver: RestaiDriver, fake: FakeRestai) -> None:
    with pytest.raises(TableNotFound):
        await driver.read_check("nope-1")
    listed = fake.count("GET", "/api/tables")
    with pytest.raises(TableNotFound):
        await driver.read_check("nope-2")
    assert fake.count("GET", "/api/tables") == listed


async def test_a_deleted_table_is_not_found(driver: RestaiDriver, fake: FakeRestai) -> None:
    await driver.read_check("3")
    del fake.tables[fake.table(3)["id"]]
    with pytest.raises(TableNotFound):
        await driver.read_check("3")


async def test_a_table_in_maintenance_is_unavailable(
    driver: RestaiDriver, fake: FakeRestai
) -> None:
    fake.table(4)["status"] = "maintenance"
    with pytest.raises(TableUnavailable):
        await driver.read_check("4")
    with pytest.raises(TableUnavailable):
        await driver.add_lines("4", None, [line(fake, "Pisco Sour", ref="s:1")])
    assert fake.count("POST", "/api/orders") == 0
