"""A command's deadline: one budget for everything the command waits for.

The budget starts when the command's handling starts. The wait for its table's lock,
every POS call and every retry come out of it, so a command is answered within
``pos_deadline`` whatever the POS does and however busy its table is (contract §5).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pos_drivers import PosUnavailable


@dataclass(frozen=True, slots=True)
class Deadline:
    """An instant on the event loop's clock (``loop.time()``) and the budget it ends."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(asyncio.get_running_loop().time() + seconds, seconds)

    def remaining(self) -> float:
        """Seconds left; 0 once passed."""
        return max(0.0, self.at - asyncio.get_running_loop().time())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def exceeded(self, what: str) -> PosUnavailable:
        """The error that answers a command whose budget ran out during ``what``."""
        return PosUnavailable(f"{what} did not finish within the deadline of {self.seconds:g} s")
