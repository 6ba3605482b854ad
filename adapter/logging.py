"""One log stream: structlog's and every library's lines, in one format, with one context.

Our loggers (``structlog.get_logger``) and the standard library's loggers (the drivers
in ``pos_drivers``, aiormq, aio_pika, httpx, uvicorn, asyncio, alembic, ...) all end in
one handler on the root logger whose ``structlog.stdlib.ProcessorFormatter`` renders every
record the same way: a JSON object per line (``POS_ADAPTER_LOG_FORMAT=json``) or the console
renderer, each with ``timestamp``, ``level``, ``logger``, ``event``, an ``exception``
field for a traceback, and the context bound with ``structlog.contextvars``. A location
binds ``locationId``, a command's handling ``messageId``, ``messageType`` and
``posTableId`` that way, so a driver's or a library's line carries them too. Secrets never
reach a log line: settings keep them as ``SecretStr``.

Levels: ``POS_ADAPTER_LOG_LEVEL`` applies to our loggers and to every library not named
below. Libraries that log per request, per connection attempt or per start-up step
(``CHATTY``) stay at WARNING or above unless the level is ``debug``: otherwise a polling
driver's every request would bury our lines. Those tracing their internals (``TRACING``)
stay at WARNING or above even at ``debug``: httpcore's and hpack's traces carry raw
headers, cookies and tokens among them, and aiosqlite's one line per SQL operation says
nothing a person needs.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from adapter.settings import LogFormat, LogLevel
from handlers import merge_command_context

CHATTY = ("aiormq", "aio_pika", "httpx", "uvicorn.access", "alembic.runtime.plugins")
TRACING = ("httpcore", "hpack", "aiosqlite")


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to the ``sys.stderr`` of the moment, not the one at configuration: a stream
    replaced since (pytest's capture) may be closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def _library_level(numeric: int, name: str) -> int:
    """The level of library logger ``name`` when ours log at ``numeric``."""
    if name in TRACING:
        return max(numeric, logging.WARNING)
    return numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)


def configure_logging(level: LogLevel = LogLevel.INFO, fmt: LogFormat = LogFormat.JSON) -> None:
    """Configure structlog and the standard library's root logger; calling it again
    replaces the configuration (no second handler, no doubled lines)."""
    numeric = logging.getLevelName(level.value.upper())
    shared: list[structlog.types.Processor] = [
        merge_command_context,  # first: the command's fields win over the task's context
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    rendering: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt is LogFormat.JSON
        # A plain traceback: the default (rich's) prints local variables, tokens among them.
        else [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # A library's extra={...} fields become fields of its line.
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in (*CHATTY, *TRACING):
        logging.getLogger(name).setLevel(_library_level(numeric, name))
