"""The mock POS (a real HTTP server with seed data) and the ``mock`` driver that talks to it.

- :class:`MockPosServer`: run it inside an event loop (tests, demo, benchmarks);
  :func:`serve`: run it blocking (``pos-adapter mock-pos``).
- :class:`MockPosControl`: act as the restaurant (waiter lines, closing, faults).
- :class:`MockDriver`: the driver the adapter uses against it.
"""

from pos_drivers.mock._control import MockPosControl, MockPosControlError
from pos_drivers.mock._driver import MockDriver, MockSettings
from pos_drivers.mock._runner import MockPosServer, serve
from pos_drivers.mock._server import create_app
from pos_drivers.mock._state import MockPosState

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
