"""Calling the POS under a deadline: retry what is transient, with back-off and jitter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from handlers._backoff import Backoff
from pos_drivers import PosUnavailable

T = TypeVar("T")

log = structlog.get_logger("pos_adapter.pos")


async def call_pos(operation: Callable[[], Awaitable[T]], deadline: float) -> T:
    """Run ``operation`` until it succeeds, fails for a business reason, or ``deadline``
    seconds have passed (then PosUnavailable). A POS that asked for a pause (429
    ``Retry-After``) gets it, within the deadline."""
    backoff = Backoff(initial=0.1, maximum=2.0)
    give_up_at = time.monotonic() + deadline
    last: PosUnavailable | None = None
    while True:
        remaining = give_up_at - time.monotonic()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                return await operation()
        except TimeoutError:
            last = PosUnavailable(f"the POS did not answer within {deadline:g} s")
            break
        except PosUnavailable as exc:
            last = exc
        delay = max(backoff.next_delay(), last.retry_after or 0.0)
        remaining = give_up_at - time.monotonic()
        if delay >= remaining:
            break
        log.info("POS unavailable, retrying", error=last.message, retry_in=round(delay, 3))
        await asyncio.sleep(delay)
    raise last or PosUnavailable(f"the POS did not answer within {deadline:g} s")
