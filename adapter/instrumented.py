"""Measuring the driver and the store from the outside, so neither needs to know metrics.

- :class:`MeteredDriver` wraps whatever driver is configured and times each call (one
  attempt; the retries under the deadline are separate calls). A business refusal
  (table not found, items rejected, an unknown change cursor, ...) is an answer, not an
  error; an unreachable or failing POS, or an unexpected exception, counts as an error.
  A call cancelled by the caller's deadline is not measured: the command's outcome
  (``POS_UNAVAILABLE``) says it.
- :func:`sample_backlog` keeps the outbox backlog gauge current.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import ClassVar, TypeVar

from adapter.metrics import Metrics
from adapter.store import SqlStore
from pos_drivers import (
    AddedLines,
    Capability,
    ChangedTables,
    CursorExpired,
    NewLine,
    PosBusinessError,
    PosCheck,
    PosDriver,
    PosLine,
    PosProduct,
    PushEvent,
)

T = TypeVar("T")


class MeteredDriver(PosDriver):
    """A driver that times and counts the calls of the driver it wraps."""

    name: ClassVar[str] = "metered"

    def __init__(self, inner: PosDriver, metrics: Metrics) -> None:
        super().__init__(inner.config, inner.settings)
        self.inner = inner
        # Handlers name the driver in rejection messages: the wrapped one's name.
        self.name = inner.name  # type: ignore[misc]
        self._seconds = metrics.pos_call_seconds
        self._errors = metrics.pos_errors

    def supports(self, capability: Capability) -> bool:
        return self.inner.supports(capability)

    async def open(self) -> None:
        await self.inner.open()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            result = await call
        except (PosBusinessError, CursorExpired):
            self._seconds.labels(self.name, operation).observe(time.perf_counter() - started)
            raise
        except Exception:
            self._seconds.labels(self.name, operation).observe(time.perf_counter() - started)
            self._errors.labels(self.name, operation).inc()
            raise
        self._seconds.labels(self.name, operation).observe(time.perf_counter() - started)
        return result

    async def read_check(self, table_id: str) -> PosCheck:
        return await self._timed("read_check", self.inner.read_check(table_id))

    async def list_products(self) -> Mapping[str, PosProduct]:
        return await self._timed("list_products", self.inner.list_products())

    async def add_lines(
        self, table_id: str, expected_order_id: str | None, lines: Sequence[NewLine]
    ) -> AddedLines:
        return await self._timed(
            "add_lines", self.inner.add_lines(table_id, expected_order_id, lines)
        )

    async def find_lines(self, table_id: str, ref_prefix: str) -> tuple[PosLine, ...]:
        return await self._timed("find_lines", self.inner.find_lines(table_id, ref_prefix))

    async def changes_since(self, cursor: str | None) -> ChangedTables:
        return await self._timed("changes_since", self.inner.changes_since(cursor))

    def push_events(self) -> AsyncIterator[PushEvent]:
        # An endless stream: nothing to time.
        return self.inner.push_events()

    async def ping(self) -> bool:
        reachable = await self._timed("ping", self.inner.ping())
        if not reachable:
            self._errors.labels(self.name, "ping").inc()
        return reachable


async def sample_backlog(store: SqlStore, metrics: Metrics, interval: float) -> None:
    """Keep ``pos_adapter_outbox_backlog`` current: one indexed count per ``interval``
    on the event loop (a scrape runs on another thread and must not touch the store)."""
    while True:
        metrics.outbox_backlog.set(await store.outbox_backlog())
        await asyncio.sleep(interval)
