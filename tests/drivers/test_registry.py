"""Drivers are found by name through the ``pos_adapter.drivers`` entry points."""

from __future__ import annotations

import pytest

from pos_drivers import PosDriver, available_drivers, load_driver
from pos_drivers.mock import MockDriver


def test_the_mock_driver_is_registered() -> None:
    assert "mock" in available_drivers()
    assert load_driver("mock") is MockDriver
    assert issubclass(load_driver("mock"), PosDriver)


def test_an_unknown_driver_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="mock"):
        load_driver("no-such-pos")
