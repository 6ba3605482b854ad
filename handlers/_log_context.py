"""The command a log line was written for, added to every line written while it is handled.

structlog's ``bound_contextvars`` sets (and resets) one context variable per key, some
15 µs per command for four keys; here the command's fields are one variable, set once,
and :func:`merge_command_context` (a structlog processor, in the adapter's logging
configuration) adds them to the lines written meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any

_COMMAND: ContextVar[dict[str, str | None] | None] = ContextVar("pos_adapter_command",
                                                                default=None)


@contextlib.contextmanager
def command_context(**fields: str | None) -> Iterator[None]:
    """``fields`` on every line logged inside, in this task and those it starts."""
    token = _COMMAND.set(fields)
    try:
        yield
    finally:
        _COMMAND.reset(token)


def merge_command_context(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The structlog processor: the command's fields, unless the line sets them itself."""
    fields = _COMMAND.get()
    if fields:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
    return event_dict
