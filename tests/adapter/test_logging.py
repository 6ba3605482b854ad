"""Logging configured as the worker configures it, in a process of its own: structlog's
lines and the standard library's (drivers, aiormq, httpx, ...) in one format, one context."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

# Logs through the real parts: structlog loggers as the adapter's modules get them,
# stdlib loggers as the drivers and libraries do. argv: level, format.
SCRIPT = """
import logging, sys
import structlog
from adapter.logging import configure_logging
from adapter.settings import LogFormat, LogLevel

level, fmt = LogLevel(sys.argv[1]), LogFormat(sys.argv[2])
configure_logging(level, fmt)
configure_logging(level, fmt)  # a second call replaces the first: no doubled lines
structlog.contextvars.bind_contextvars(locationId="loc-7")
from handlers import command_context
command = command_context(messageId="m-7", posTableId="T7")
command.__enter__()  # the dispatcher's, around the command's lines
ours = structlog.get_logger("pos_adapter.worker")
driver = logging.getLogger("pos_drivers.restai")
aiormq = logging.getLogger("aiormq.connection")
httpcore = logging.getLogger("httpcore.http11")

aiormq.error("Unexpected connection close from %s", "127.0.0.1:5672")
aiormq.info("aiormq info")
aiormq.debug("aiormq debug")
httpcore.warning("httpcore warning")
httpcore.debug("httpcore debug")
driver.info("logged in to RestAI as user %s", 7, extra={"posTableId": "T4"})
driver.debug("driver debug")
ours.info("ours", n=1)
ours.debug("ours debug")
try:
    1 / 0
except ZeroDivisionError:
    driver.exception("poll failed")
"""

ALWAYS = [
    "Unexpected connection close from 127.0.0.1:5672",
    "httpcore warning",
]


def run(level: str, fmt: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, level, fmt],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return done.stdout, done.stderr


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line, as JSON: a line that is not fails the test."""
    return [json.loads(line) for line in text.splitlines()]


def test_library_and_driver_lines_are_json_with_the_bound_context() -> None:
    out, err = run("info", "json")

    assert out == ""
    lines = json_lines(err)
    assert [line["event"] for line in lines] == [
        *ALWAYS, "logged in to RestAI as user 7", "ours", "poll failed",
    ]
    for line in lines:
        assert line["locationId"] == "loc-7"
        assert (line["messageId"], line["posTableId"]) in (("m-7", "T7"), ("m-7", "T4"))
        assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    assert [(line["level"], line["logger"]) for line in lines] == [
        ("error", "aiormq.connection"),
        ("warning", "httpcore.http11"),
        ("info", "pos_drivers.restai"),
        ("info", "pos_adapter.worker"),
        ("error", "pos_drivers.restai"),
    ]
    assert lines[2]["posTableId"] == "T4"  # a library's extra={...}
    assert lines[3]["n"] == 1
    assert lines[4]["exception"].startswith("Traceback (most recent call last):")
    assert lines[4]["exception"].endswith("ZeroDivisionError: division by zero")


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        # debug: ours and aiormq's debug lines; httpcore's traces never.
        ("debug", [
            *ALWAYS[:1], "aiormq info", "aiormq debug", ALWAYS[1],
            "logged in to RestAI as user 7", "driver debug", "ours", "ours debug", "poll failed",
        ]),
        # info: our loggers' info, not aiormq's.
        ("info", [*ALWAYS, "logged in to RestAI as user 7", "ours", "poll failed"]),
        ("warning", [*ALWAYS, "poll failed"]),
        ("error", [ALWAYS[0], "poll failed"]),
    ],
)
def test_the_level_applies_to_ours_and_libraries_keep_their_floor(
    level: str, expected: list[str]
) -> None:
    _out, err = run(level, "json")

    assert [line["event"] for line in json_lines(err)] == expected


def test_the_console_format_renders_library_lines_too() -> None:
    out, err = run("info", "console")

    assert out == ""
    lines = err.splitlines()
    [aiormq] = [line for line in lines if "Unexpected connection close" in line]
    assert "[error" in aiormq
    assert "[aiormq.connection]" in aiormq
    assert "locationId=loc-7" in aiormq
    assert "messageId=m-7" in aiormq
    assert not any(line.startswith(("ERROR:", "INFO:", "WARNING:")) for line in lines)
    assert "ZeroDivisionError: division by zero" in lines
