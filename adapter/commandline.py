"""What the commands of ``pos-adapter`` share: the settings (or one line and exit code 2),
the location a command is about, and running a coroutine.

The command modules (``adapter.commands``, ``adapter.ops.*``) import this one; it imports
none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from adapter.drivers import ConfiguredDriver, configured_driver
from adapter.locations import location_settings
from adapter.run import report_settings_error
from adapter.run import run_async as run_async  # the commands' way to run a coroutine
from adapter.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

LocationOption = Annotated[
    str | None,
    typer.Option("--location", metavar="LOCATION", help="The location (needed only when "
                 "the locations file has several)."),
]


class Commands(TyperGroup):
    """The root command group: every command it hands out gets help that reads well.

    Typer labels each value with its Python type (``<str>``, ``<bool>`` even for a flag
    that takes none) and keeps a docstring's line breaks, which then break a narrower or
    wider terminal's lines in odd places. :func:`tidy_help` fixes both, for the commands
    of sub-groups too, without each command module having to remember it.
    """

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy_help(command, ctx)
        return command

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        tidy_help(self, ctx)
        super().format_help(ctx, formatter)


class _Argument(TyperArgument):
    """An argument whose help row shows its name (a metavar) and no Python type."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None


def tidy_help(command: Command, ctx: Context) -> None:
    """Reflowable help paragraphs; a flag shows no value, an option or argument a metavar
    (``--message-id MESSAGE_ID``, ``TARGET``) unless it has its own or is a choice (``a|b``)."""
    if command.help:
        command.help = reflow(command.help)
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option else [])]:
        if isinstance(param, TyperOption) and param.metavar is None:
            if param.is_flag:
                param.metavar = ""
            elif not param.type_descriptor.is_choice:
                param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
        elif isinstance(param, TyperArgument) and not isinstance(param, _Argument):
            param.metavar = param.metavar or (param.name or "value").upper()
            param.__class__ = _Argument
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            tidy_help(sub, ctx)


def reflow(text: str) -> str:
    """Each paragraph on one line, for the help renderer to wrap to the terminal; a
    paragraph marked ``\\b`` (click's "do not rewrap") is left as written."""
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def fail(error: SettingsError) -> typer.Exit:
    """Say what is wrong, one line per fault, and exit with code 2."""
    return typer.Exit(report_settings_error(error))


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


def driver_or_exit(settings: Settings) -> ConfiguredDriver:
    """The configured driver with its settings."""
    try:
        return configured_driver(settings)
    except SettingsError as exc:
        raise fail(exc) from None
