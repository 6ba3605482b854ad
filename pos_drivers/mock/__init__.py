"""The mock POS (a real HTTP server with seed data) and the ``mock`` driver that talks to it.

- :class:`MockPosServer`: run it inside an event loop (tests, demo, benchmarks);
  :func:`serve`: run it blocking (``pos-adapter mock-pos``).
- :class:`MockPosControl`: act as the restaurant (waiter lines, closing, faults).
- :class:`MockDriver`: the driver the adapter uses against it.

The server side is loaded on first use: a worker using the driver never needs it.
"""

from typing import TYPE_CHECKING

from pos_drivers._lazy import lazy_names
from pos_drivers.mock._control import MockPosControl, MockPosControlError
from pos_drivers.mock._driver import MockDriver, MockSettings
from pos_drivers.mock._state import MockPosState

if TYPE_CHECKING:  # the names the lazy __getattr__ gives; typos stay errors
    from pos_drivers.mock._runner import MockPosServer, serve
    from pos_drivers.mock._server import create_app
else:
    __getattr__ = lazy_names(__name__, {
        "MockPosServer": "._runner", "serve": "._runner", "create_app": "._server",
    })

__all__ = [
    "MockDriver",
    "MockPosControl",
    "MockPosControlError",
    "MockPosServer",
    "MockPosState",
    "MockSettings",
    "create_app",
    "serve",
]
