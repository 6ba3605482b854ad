"""What can be wrong with an incoming message, said for people.

- :class:`PoisonMessage`: the body cannot be answered at all (not JSON, no usable
  messageId, unknown or non-command messageType, unsupported schemaVersion, too big).
  The consumer dead-letters it with ``reason`` as the ``x-pos-adapter-error`` header.
- A pydantic ``ValidationError`` on an otherwise answerable command becomes one sentence
  naming every field in error (:func:`describe_validation_error`), which goes into the
  ``INVALID_REQUEST`` rejection's ``message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from ._text import storable

__all__ = ["PoisonMessage", "describe_validation_error", "field_path"]


class PoisonMessage(Exception):
    """A message that cannot be answered: it is dead-lettered, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_DATETIME = "must be an RFC 3339 date-time with an offset, like 2026-11-21T19:00:00Z"

TEXT_RULE = "must be Unicode text without NUL (no \\u0000, no lone surrogate such as \\ud800)"

_PHRASES: dict[str, str] = {
    "missing": "required",
    "string_unicode": TEXT_RULE,
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "enum": "must be one of {expected}",
    "literal_error": "must be {expected}",
    "timezone_aware": _DATETIME,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
}


_SIZED = frozenset({"string_too_short", "too_short"})


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("items", 1, "quantity")`` -> ``payload.items[1].quantity`` with prefix ``payload``.

    A snake_case part becomes its wire name: pydantic reports a field whose default was
    validated under its Python name.
    """
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = to_camel(part) if "_" in part else part
            path = f"{path}.{name}" if path else name
    return path or "message"


def _phrase(error: ErrorDetails) -> str:
    if error["type"] in _SIZED and error.get("ctx", {}).get("min_length") == 1:
        return "must not be empty"
    template = _PHRASES.get(error["type"])
    if template is None:
        return error["msg"]
    return template.format(**error.get("ctx", {}))


def _entries(errors: Iterable[ErrorDetails], prefix: str) -> list[str]:
    entries: list[str] = []
    for error in errors:
        entry = f"{field_path(error['loc'], prefix)}: {_phrase(error)}"
        if entry not in entries:
            entries.append(entry)
    return entries


def describe_validation_error(
    exc: ValidationError | None, *, prefix: str = "", bad_text: Sequence[str] = ()
) -> str:
    """One sentence naming every field in error, with wire names and list indexes;
    ``bad_text`` are the paths of strings that break the text rule (``_text``).

    ``"payload.items[1].quantity: must be at most 99; payload.posTableId: required"``
    """
    entries = [f"{path}: {TEXT_RULE}" for path in bad_text]
    if exc is not None:
        errors = exc.errors(include_url=False, include_input=False)
        entries += [e for e in _entries(errors, prefix) if e not in entries]
    return storable("; ".join(entries))
