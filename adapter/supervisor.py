"""One policy for every background task of the worker.

- A task that raises is logged (with its traceback), counted
  (``pos_adapter_task_failures_total{task}``) and started again after a back-off that
  grows from ``RESTART_INITIAL`` to ``RESTART_MAX`` seconds: a store or broker that is
  briefly away costs a few retries, not the process.
- A task that failed ``MAX_FAILURES`` times in a row (without ``HEALTHY_AFTER`` seconds of
  running in between) cannot go on: the supervisor calls ``on_fatal``, and the worker
  stops through its graceful shutdown with a non-zero exit code, for its own supervisor
  (systemd, Kubernetes) to start a fresh process.
- A task that returns has finished its work (the lease keeper returns when the lease is
  lost, and says so itself).
- :meth:`Supervisor.watch` takes a task somebody else runs (the store's group commit) that
  must never end: its end is fatal at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from adapter.metrics import Metrics
from handlers import Backoff

log = structlog.get_logger("pos_adapter.supervisor")

RESTART_INITIAL = 0.5
RESTART_MAX = 30.0
MAX_FAILURES = 8
"""With the back-off above, about two minutes of failing before the worker gives up."""
HEALTHY_AFTER = 60.0

TaskFactory = Callable[[], Awaitable[None]]
OnFatal = Callable[[str, BaseException], None]


class Supervisor:
    def __init__(self, *, on_fatal: OnFatal, metrics: Metrics | None = None) -> None:
        self._on_fatal = on_fatal
        self._metrics = metrics
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.failed: tuple[str, BaseException] | None = None

    def spawn(self, name: str, factory: TaskFactory) -> asyncio.Task[None]:
        """Run ``factory()`` as a background task, started again when it raises. The
        task runs in the caller's context (structlog's bound variables included)."""
        task = asyncio.create_task(self._supervise(name, factory), name=name)
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._forget(name, done))
        return task

    async def cancel(self, name: str) -> None:
        """Stop the task spawned as ``name`` (if it runs) and wait for it."""
        task = self._tasks.get(name)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]

    def watch(self, name: str, task: asyncio.Task[None]) -> None:
        """A task run elsewhere that must not end while the worker runs."""
        task.add_done_callback(lambda done: self._watched_ended(name, done))

    async def stop(self) -> None:
        """Cancel every task spawned here and wait for them."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervise(self, name: str, factory: TaskFactory) -> None:
        backoff = Backoff(initial=RESTART_INITIAL, maximum=RESTART_MAX)
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await factory()
                return
            except Exception as exc:
                if time.monotonic() - started >= HEALTHY_AFTER:
                    failures = 0
                    backoff.reset()
                failures += 1
                if self._metrics is not None:
                    self._metrics.task_failures.labels(name).inc()
                if failures >= MAX_FAILURES:
                    log.error("background task cannot go on: stopping the worker",
                              task=name, failures=failures, exc_info=exc)
                    self._fatal(name, exc)
                    return
                delay = backoff.next_delay()
                log.error("background task failed; starting it again", task=name,
                          failures=failures, retry_in=round(delay, 2), exc_info=exc)
                await asyncio.sleep(delay)

    def _watched_ended(self, name: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return  # stopped on purpose (the store closes after the worker's tasks)
        error = task.exception() or RuntimeError(f"{name} ended")
        log.error("background task ended: stopping the worker", task=name, exc_info=error)
        self._fatal(name, error)

    def _fatal(self, name: str, exc: BaseException) -> None:
        if self.failed is None:
            self.failed = (name, exc)
            self._on_fatal(name, exc)
