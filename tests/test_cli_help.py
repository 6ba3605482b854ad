"""What a new user sees first: ``--version`` and every command's ``--help``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from adapter.commandline import reflow
from adapter.commands import app
from adapter.metrics import software_version

# Typer's own value labels: Python type names where a person expects a metavar.
TYPE_LABEL = re.compile(r"<(bool|str|int|float|dir|path|file|list\[[a-z]+\])( range)?>")
BOX = "│╭╮╰╯─"


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and sub-group, the root included, as the words that reach it."""
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


PATHS = list(command_paths())


def help_of(path: tuple[str, ...], columns: int) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"pos-adapter {software_version()}\n"
    assert software_version()[0].isdigit()


def test_every_command_is_reached() -> None:
    assert {("dlq", "list"), ("messages", "show"), ("streams", "show"), ("mock-pos",),
            ("health",), ()} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "pos-adapter")
def test_help_names_values_by_metavar_not_by_python_type(path: tuple[str, ...]) -> None:
    for columns in (80, 200):
        output = help_of(path, columns)

        assert not TYPE_LABEL.search(output), output


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "pos-adapter")
def test_help_paragraphs_flow_to_the_terminal_width(path: tuple[str, ...]) -> None:
    """On a wide terminal each paragraph is one line: no docstring line break survives."""
    command = typer.main.get_command(app)
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    lines = [line.strip(f" {BOX}") for line in help_of(path, 400).splitlines()]

    for paragraph in reflow(command.help or "").split("\n\n"):
        assert any(paragraph in line for line in lines), (paragraph, lines)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            first = reflow(sub.help or "").split("\n\n")[0]
            assert any(line.endswith(first) for line in lines), (first, lines)


def test_a_flag_shows_no_value_and_an_option_its_metavar() -> None:
    output = help_of(("mock-pos",), 120)

    assert re.search(r"--port +PORT +Port to listen on, 1 to 65535", output)
    assert re.search(r"--host +ADDRESS ", output)
    assert re.search(r"--help +Show this message", output)
