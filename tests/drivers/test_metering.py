"""Every public driver operation is timed and counted, whatever the driver implements."""

from __future__ import annotations

import inspect

import pytest

from adapter.instrumented import LIFECYCLE, METERED, meter
from adapter.metrics import Metrics
from pos_drivers import DriverConfig, PosDriver, PosUnavailable


def test_metered_operations_are_every_public_coroutine_of_the_interface() -> None:
    public = {name for name, member in vars(PosDriver).items()
              if not name.startswith("_") and inspect.iscoroutinefunction(member)}
    assert set(METERED) == public - LIFECYCLE
    assert {"read_check", "add_lines", "find_lines", "changes_since", "ping"} <= set(METERED)


async def _unreachable(self: PosDriver, *args: object, **kwargs: object) -> object:
    raise PosUnavailable("down")


Unreachable: type[PosDriver] = type(
    "Unreachable", (PosDriver,), {"name": "unreachable", **dict.fromkeys(METERED, _unreachable)}
)
"""A driver whose every operation fails as an unreachable POS does."""


@pytest.mark.parametrize("operation", METERED)
async def test_each_operation_is_counted_under_its_name(operation: str) -> None:
    metrics = Metrics()
    driver = meter(Unreachable(DriverConfig(pos_url="http://pos.invalid")),
                   metrics.location("here", "unreachable"))
    method = getattr(driver, operation)
    arguments = [None] * (len(inspect.signature(getattr(PosDriver, operation)).parameters) - 1)
    with pytest.raises(PosUnavailable):
        await method(*arguments)

    labels = {"location": "here", "driver": "unreachable", "operation": operation}
    assert metrics.registry.get_sample_value("pos_adapter_pos_errors_total", labels) == 1
