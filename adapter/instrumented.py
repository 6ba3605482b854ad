"""Measuring the driver and the store from the outside, so neither needs to know metrics.

- :func:`meter` makes a driver time and count each of its calls (one attempt; the retries
  under the deadline are separate calls): every public coroutine method of ``PosDriver``
  but its lifecycle, so that a method added to the interface is metered too. A business
  refusal (table not found, items rejected, an unknown change cursor, ...) is an answer,
  not an error; an unreachable or failing POS, or an unexpected exception, counts as an
  error. A call cancelled by the caller's deadline is not measured: the command's outcome
  (``POS_UNAVAILABLE``) says it. With tracing on when the driver is metered, each call
  inside a command is a ``pos <operation>`` span too (``adapter.tracing``).
- :func:`sample_backlog` keeps the outbox backlog gauge current.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from adapter import tracing
from adapter.metrics import LocationMetrics, Metrics
from adapter.store import SqlStore
from pos_drivers import CursorExpired, PosBusinessError, PosDriver

LIFECYCLE = frozenset({"open", "aclose"})
METERED = tuple(
    name for name, member in inspect.getmembers(PosDriver, inspect.iscoroutinefunction)
    if not name.startswith("_") and name not in LIFECYCLE
)
"""The driver operations timed and counted: ``read_check``, ``add_lines``, ``ping``, …"""
ANSWERS = (PosBusinessError, CursorExpired)
"""What a POS answers by raising (a business refusal, an unknown cursor): not a failure."""


def meter(driver: PosDriver, metrics: LocationMetrics) -> PosDriver:
    """``driver``, each of its calls timed and counted under its operation's name."""
    traced = tracing.enabled()
    for operation in METERED:
        method = _timed(getattr(driver, operation), operation, driver.name, metrics)
        if traced:
            method = _traced(method, operation, driver.name)
        setattr(driver, operation, method)
    return driver


def _traced(
    method: Callable[..., Awaitable[Any]], operation: str, driver: str
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        with tracing.pos_call(driver, operation, ANSWERS):
            return await method(*args, **kwargs)

    return traced


def _timed(
    method: Callable[..., Awaitable[Any]], operation: str, driver: str, metrics: LocationMetrics
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await method(*args, **kwargs)
        except ANSWERS:
            metrics.pos_call(driver, operation, time.perf_counter() - started, failed=False)
            raise
        except Exception:
            metrics.pos_call(driver, operation, time.perf_counter() - started, failed=True)
            raise
        unreachable = operation == "ping" and result is False
        metrics.pos_call(driver, operation, time.perf_counter() - started, failed=unreachable)
        return result

    return timed


async def sample_backlog(store: SqlStore, metrics: Metrics, interval: float) -> None:
    """Keep ``pos_adapter_outbox_backlog`` current: one indexed count per ``interval``
    on the event loop (a scrape runs on another thread and must not touch the store)."""
    while True:
        metrics.outbox_backlog.set(await store.outbox_backlog())
        await asyncio.sleep(interval)
