"""The ``pos-adapter`` command line (``adapter.cli`` hands it every command line but a
bare ``pos-adapter run``).

It mounts the operator commands of ``adapter.ops``; they share ``adapter.commandline``
with it and never import this module. What only one command needs and takes long to
load (the worker, the POS imitations, the demo) is imported inside that command.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from adapter.commandline import (
    Commands,
    LocationOption,
    driver_or_exit,
    run_async,
    settings_or_exit,
)
from adapter.ops import dlq, messages, replay, resync, streams
from adapter.ops.health import health
from adapter.settings_table import configuration_markdown, in_effect
from schemas import message_json_schemas

app = typer.Typer(
    cls=Commands,
    help="pos-adapter: connects a restaurant POS to OpenApp over RabbitMQ.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from adapter.metrics import software_version

        typer.echo(f"pos-adapter {software_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    """pos-adapter: connects a restaurant POS to OpenApp over RabbitMQ."""


@app.command()
def run() -> None:
    """Run the worker (configuration from POS_ADAPTER_* environment variables)."""
    from adapter.run import run_worker  # inside: the other commands need not load it

    raise typer.Exit(run_worker())


class Flavor(StrEnum):
    MOCK = "mock"
    TABLEMGMT = "tablemgmt"


@app.command("mock-pos")
def mock_pos(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on "
                                      "(0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(
        metavar="PORT",
        help="Port to listen on, 1 to 65535 (default: 8081 for mock, 8090 for tablemgmt).",
    )] = None,
    flavor: Annotated[Flavor, typer.Option(
        help="mock: the mock POS of the demo and the tests; tablemgmt: an imitation of the "
        "Table Management API (prints a manager token and the outlet id).")] = Flavor.MOCK,
) -> None:
    """Run a POS to try the adapter against: the mock POS (seed data, POS API, push
    channel, control API) or the Table Management API's imitation."""
    if port is not None and not 1 <= port <= 65535:
        _usage_error(f"--port {port} is no TCP port: give one from 1 to 65535")
    if flavor is Flavor.TABLEMGMT:
        from pos_drivers.tablemgmt import run_tablemgmt_server  # inside: slow to load

        run_tablemgmt_server(host, 8090 if port is None else port)
        return
    from pos_drivers.mock import serve  # inside: slow to load

    serve(host, 8081 if port is None else port)


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="DIR",
        help="Directory to write one JSON Schema file per message type to.")] = None,
    asyncapi: Annotated[Path | None, typer.Option(
        "--asyncapi", metavar="FILE",
        help="YAML file to write the AsyncAPI 3.0 document of the contract to (the "
        "repository keeps it as docs/asyncapi.yaml).")] = None,
) -> None:
    """Write the contract's JSON Schema files (--out), its AsyncAPI document (--asyncapi),
    or both."""
    from adapter.metrics import software_version
    from adapter.yaml_text import readable_yaml
    from schemas import asyncapi_document

    if out is None and asyncapi is None:
        _usage_error("schema needs --out DIR, --asyncapi FILE or both")
    if out is not None and out.is_file():
        _usage_error(f"--out {out} is a file; it must be a directory")
    if asyncapi is not None and asyncapi.is_dir():
        _usage_error(f"--asyncapi {asyncapi} is a directory; it must be a file")
    try:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for message_type, document in message_json_schemas().items():
                path = out / f"{message_type.value}.json"
                path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
                typer.echo(str(path))
        if asyncapi is not None:
            asyncapi.parent.mkdir(parents=True, exist_ok=True)
            text = readable_yaml(asyncapi_document(software_version()))
            asyncapi.write_text(text, encoding="utf-8")
            typer.echo(str(asyncapi))
    except OSError as exc:
        _usage_error(f"cannot write: {exc}")


def _usage_error(message: str) -> NoReturn:
    typer.echo(f"pos-adapter: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def demo(
    table: Annotated[str, typer.Option(metavar="TABLE",
                                       help="The mock POS table to play with.")] = "T5",
) -> None:
    """Start the mock POS and the adapter, play a short table scenario, print the messages."""
    from adapter.demo import run_demo  # inside: it loads the mock POS, slow

    settings = settings_or_exit()
    raise typer.Exit(run_async(run_demo(settings, table)))


@app.command("settings")
def show_settings(
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print every setting of the adapter and of each installed driver "
        "as the README's Markdown tables.")] = False,
    location: LocationOption = None,
) -> None:
    """Show the settings in effect (adapter and driver; secrets masked)."""
    if markdown:
        typer.echo(configuration_markdown())
        return
    settings = settings_or_exit(location)
    driver = driver_or_exit(settings)
    table = Table("setting", "value")
    for name, value in in_effect(settings):
        table.add_row(f"POS_ADAPTER_{name.upper()}", value)
    prefix = str(driver.settings.model_config.get("env_prefix") or "")
    for name, value in in_effect(driver.settings):
        table.add_row(f"{prefix}{name.upper()}", value)
    Console().print(table)


app.command()(health)
app.add_typer(dlq.app, name="dlq")
app.add_typer(streams.app, name="streams")
app.add_typer(messages.app, name="messages")
app.command("replay")(replay.replay)
app.command("resync")(resync.resync)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
