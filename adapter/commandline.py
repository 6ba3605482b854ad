"""What the commands of ``pos-adapter`` share: the settings (or one line and exit code 2),
the location a command is about, and running a coroutine.

The command modules (``adapter.cli``, ``adapter.ops.*``) import this one; it imports none
of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer

from adapter.drivers import ConfiguredDriver, configured_driver
from adapter.locations import Location, load_locations, location_settings
from adapter.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

LocationOption = Annotated[
    str | None,
    typer.Option("--location", help="The location (needed only when the locations file "
                 "has several)."),
]


def fail(error: SettingsError) -> typer.Exit:
    """Say what is wrong, one line per fault, and exit with code 2."""
    for line in str(error).splitlines():
        typer.echo(f"pos-adapter: {line}", err=True)
    return typer.Exit(2)


def process_settings_or_exit() -> Settings:
    """The process's settings, from the environment (every location's base)."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise fail(exc) from None


def settings_or_exit(location: str | None = None) -> Settings:
    """The settings of ``location``, or of the only location there is."""
    try:
        return location_settings(process_settings_or_exit(), location)
    except SettingsError as exc:
        raise fail(exc) from None


def locations_or_exit(settings: Settings) -> list[Location]:
    """The locations to serve, each with its driver."""
    try:
        return load_locations(settings)
    except SettingsError as exc:
        raise fail(exc) from None


def driver_or_exit(settings: Settings) -> ConfiguredDriver:
    """The configured driver with its settings."""
    try:
        return configured_driver(settings)
    except SettingsError as exc:
        raise fail(exc) from None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed: the broker client is faster on it."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)
