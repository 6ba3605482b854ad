"""Running the worker, and a coroutine on uvloop: what ``pos-adapter run`` needs and the
command line shares, without the command line (typer, rich, the operators' commands)."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from adapter.locations import load_locations
from adapter.logging import configure_logging
from adapter.settings import SettingsError, load_settings

T = TypeVar("T")

EXIT_USAGE = 2


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed: the broker client is faster on it."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def report_settings_error(error: SettingsError) -> int:
    """Say what is wrong, one line per fault, on stderr; the exit code (2)."""
    for line in str(error).splitlines():
        print(f"pos-adapter: {line}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def quiet_garbage_collector() -> None:
    """Fewer, shorter collections: what is loaded at start is never garbage, and a worker
    allocates many short-lived objects per message (a full collection of everything took
    ~90 ms, a p99 spike)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def run_worker() -> int:
    """Run the worker (configuration from ``POS_ADAPTER_*`` environment variables) until
    it stops; its exit code (2: a configuration error, said on stderr)."""
    try:
        settings = load_settings()
        locations = load_locations(settings)
    except SettingsError as exc:
        return report_settings_error(exc)
    from adapter.worker import Worker  # inside: the commands sharing this module need not load it

    worker = Worker(settings, locations=locations)
    configure_logging(settings.log_level, settings.log_format)

    async def main() -> int:
        worker.install_signal_handlers()
        return await worker.run()

    quiet_garbage_collector()
    return run_async(main())
