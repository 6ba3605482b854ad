"""structlog configuration: JSON lines by default, a readable console format on demand.

Handlers bind ``messageId``, ``messageType`` and ``posTableId`` with
``structlog.contextvars`` so that every line of a command's handling carries them.
Secrets never reach a log line: settings keep them as ``SecretStr``.
"""

from __future__ import annotations

import logging
import sys

import structlog

from adapter.settings import LogFormat, LogLevel


def configure_logging(level: LogLevel = LogLevel.INFO, fmt: LogFormat = LogFormat.JSON) -> None:
    numeric = logging.getLevelName(level.value.upper())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library; keep them quiet unless debugging.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
