"""Drivers are found by name through the ``pos_adapter.drivers`` entry points."""

from __future__ import annotations

import pytest

from pos_drivers import PosDriver, available_drivers, load_driver
from pos_drivers.mock import MockDriver
from pos_drivers.restai import RestaiDriver
from pos_drivers.tablemgmt import TableMgmtDriver


@pytest.mark.parametrize(("name", "driver"), [
    ("mock", MockDriver), ("restai", RestaiDriver), ("tablemgmt", TableMgmtDriver),
])
def test_the_builtin_drivers_are_registered_by_entry_point(
    name: str, driver: type[PosDriver]
) -> None:
    assert name in available_drivers()
    assert load_driver(name) is driver


def test_an_unknown_driver_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="mock"):
        load_driver("no-such-pos")
