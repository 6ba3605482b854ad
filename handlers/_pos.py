"""Calling the POS under a deadline: retry what is transient, with back-off and jitter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from handlers._deadline import Deadline
from pos_drivers import PosUnavailable

T = TypeVar("T")

log = structlog.get_logger("pos_adapter.pos")

FIRST_PAUSE = 0.1
_backoff = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.1)


def _wait(state: RetryCallState) -> float:
    """Exponential back-off with jitter, or longer if the POS asked for a pause (429)."""
    delay: float = _backoff(state)
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, PosUnavailable) and error.retry_after:
        delay = max(delay, error.retry_after)
    return delay


class _StopBeforeDeadline(stop_base):
    """Stop when the next pause would end past the deadline: no attempt is started only
    to be cut off."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return upcoming >= self._deadline.remaining()


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    sleep = state.next_action.sleep if state.next_action else 0.0
    log.info("POS unavailable, retrying", error=str(error), retry_in=round(sleep, 3))


async def call_pos(operation: Callable[[], Awaitable[T]], deadline: Deadline) -> T:
    """Run ``operation`` until it succeeds, fails for a business reason, or the deadline
    passes; then the last PosUnavailable is raised. A request still hanging at the
    deadline is cancelled."""
    if deadline.expired:
        raise deadline.exceeded("the command")
    try:
        async with asyncio.timeout_at(deadline.at):
            # The common case first, without the retry machinery around it.
            return await operation()
    except TimeoutError:
        raise deadline.exceeded("the POS call") from None
    except PosUnavailable as first:
        pause = max(FIRST_PAUSE, first.retry_after or 0.0)
        if pause >= deadline.remaining():
            raise first from None
        log.info("POS unavailable, retrying", error=str(first), retry_in=pause)
        await asyncio.sleep(pause)
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(PosUnavailable),
        wait=_wait,
        stop=_StopBeforeDeadline(deadline),
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        async with asyncio.timeout_at(deadline.at):
            async for attempt in retrying:
                with attempt:
                    return await operation()
    except TimeoutError:
        raise deadline.exceeded("the POS call") from None
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
