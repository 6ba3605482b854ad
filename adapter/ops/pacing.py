"""``--rate`` for the commands that publish (``replay``, ``dlq replay``): spread the
publishes out so that a replay does not flood the consumers behind the exchange."""

from __future__ import annotations

import asyncio


class Pace:
    """At most ``rate`` publishes per second; None: as fast as the confirms come back."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next publish is due (at once for the first)."""
        if not self._interval:
            return
        now = asyncio.get_running_loop().time()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self._interval
