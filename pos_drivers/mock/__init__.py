"""The mock POS (a real HTTP server with seed data) and the ``mock`` driver that talks to it.

- :class:`MockPosServer`: run it inside an event loop (tests, demo, benchmarks);
  :func:`serve`: run it blocking (``pos-adapter mock-pos``).
- :class:`MockPosControl`: act as the restaurant (waiter lines, closing, faults).
- :class:`MockDriver`: the driver the adapter uses against it.

Only the driver is loaded with the package: the rest (the server, its state, the
restaurant's controls) on first use, for a worker using the driver never needs it.
"""

from typing import TYPE_CHECKING

from pos_drivers._lazy import lazy_names
from pos_drivers.mock._driver import MockDriver, MockSettings

if TYPE_CHECKING:  # the names the lazy __getattr__ gives; typos stay errors
    from pos_drivers.mock._control import MockPosControl, MockPosControlError
    from pos_drivers.mock._runner import MockPosServer, serve
    from pos_drivers.mock._server import create_app
    from pos_drivers.mock._state import MockPosState
else:
    __getattr__ = lazy_names(__name__, {
        "MockPosControl": "._control", "MockPosControlError": "._control",
        "MockPosServer": "._runner", "serve": "._runner", "create_app": "._server",
        "MockPosState": "._state",
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
