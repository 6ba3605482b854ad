"""A POS's answer as the drivers read it: status, headers, the whole body.

The drivers' HTTP client returns this rather than ``httpx.Response`` so that aiohttp's
answers need not be converted into httpx's (which costs as much again as aiohttp's own
work per request); it offers the few things the drivers read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic_core


@dataclass(frozen=True, slots=True)
class PosResponse:
    """One answer, read to the end. ``headers`` looks names up case-insensitively."""

    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not (:func:`json_of`)."""
        return json_of(self.content)

    @property
    def text(self) -> str:
        """The body decoded with the charset the answer names (UTF-8 if none), bad bytes
        replaced: for error messages."""
        try:
            return self.content.decode(_charset(self.headers.get("Content-Type", "")),
                                       errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


def json_of(content: bytes) -> Any:
    """``content`` as JSON; ``ValueError`` when it is not.

    pydantic-core's parser takes half the time of ``json.loads`` on a check's answer;
    what it refuses (a byte-order mark, UTF-16, lone surrogates) ``json.loads`` still
    gets to read, so the two accept the same bodies."""
    try:
        return pydantic_core.from_json(content)
    except ValueError:
        return json.loads(content)


def _charset(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"
