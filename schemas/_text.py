"""The contract's character rule: text is Unicode text without NUL.

JSON can carry what no UTF-8 text holds: a lone surrogate escape (``"\\ud800"``) decodes to
a code point that cannot be encoded again, and ``"\\u0000"`` to a NUL that databases and
POS systems refuse. A command with either in any string is refused ``INVALID_REQUEST``
naming the field (a messageId with either is no usable messageId: poison), and whatever
is kept of a received message for people (the journal) goes through :func:`storable`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["bad_text_fields", "is_storable", "storable"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In the JSON bytes, both can only arrive as escapes; this finds every one (and a few
# look-alikes such as an escaped backslash before "u0000", which the walk then clears).
_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def is_storable(text: str) -> bool:
    """Without NUL and lone surrogates. Asked of every text the store writes, some of it
    a whole check's JSON: C-speed checks (``isascii`` is a flag of the string, a lone
    surrogate is the one code point UTF-8 cannot encode), not a scan by the regex."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str) -> str:
    """``text`` with lone surrogates and NUL written as ``\\uXXXX`` (the rest unchanged)."""
    if is_storable(text):
        return text
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def bad_text_fields(body: bytes, raw: Any) -> list[str]:
    """The paths (``payload.items[0].notes``) of every string of ``raw``, the parsed
    ``body``, that breaks the rule; cheap when the bytes show no suspicious escape."""
    if _ESCAPE.search(body) is None:
        return []
    return list(_walk(raw))


def _walk(root: Any) -> Iterator[str]:
    """Depth first, without recursion (the JSON parser accepts deep nesting)."""
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not is_storable(value):
                yield path or "message"
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                name = storable(key)
                child = f"{path}.{name}" if path else name
                if not is_storable(key):
                    yield child
                children.append((child, item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
