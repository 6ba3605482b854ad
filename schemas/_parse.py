"""Parsing an incoming command: one JSON parse, one validation.

A body is either poison (:class:`PoisonMessage`, dead-lettered) or a :class:`ParsedCommand`
that can be answered: valid, or invalid with a sentence naming every field in error
(answered ``INVALID_REQUEST``). Whatever the validation says, the command keeps raw hints
(location, table, session, submission) so that a rejection can still echo them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from pydantic import ValidationError

from ._common import identifier_or_none
from ._envelope import SCHEMA_VERSION, Envelope, MessageType
from ._errors import PoisonMessage, describe_validation_error
from ._registry import COMMAND_TYPES, MESSAGE_MODELS, CommandPayload
from ._text import bad_text_fields

__all__ = ["DEFAULT_MAX_BYTES", "ParsedCommand", "json_object", "parse_command"]

DEFAULT_MAX_BYTES = 262_144


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command that can be answered.

    ``error`` is None exactly when ``envelope`` and ``payload`` are both valid. With an
    error, ``envelope`` is still set when only the payload is wrong. The hints are taken
    from the raw body, each None unless it is a usable identifier (1-128 characters).
    """

    message_id: str
    message_type: MessageType
    envelope: Envelope | None
    payload: CommandPayload | None
    error: str | None
    location_id: str | None = None
    correlation_id: str | None = None
    pos_table_id: str | None = None
    table_session_id: str | None = None
    submission_id: str | None = None
    order_context: Mapping[str, Any] | None = None
    """The raw ``orderContext`` of a submission, if it is an object."""


def parse_command(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedCommand:
    """Parse and validate a command body; raise :class:`PoisonMessage` if it is poison."""
    raw = _load_object(body, max_bytes)
    bad_text = bad_text_fields(body, raw)
    message_id, message_type = _check_header(raw)
    hints = _hints(raw, message_type)
    try:
        message = MESSAGE_MODELS[message_type].model_validate(raw)
    except ValidationError as exc:
        envelope = _envelope_if_valid(raw, exc, bad_text)
        error = describe_validation_error(exc, bad_text=bad_text)
        return ParsedCommand(message_id, message_type, envelope, None, error, **hints)
    if bad_text:
        envelope = message if all(map(_in_payload, bad_text)) else None
        error = describe_validation_error(None, bad_text=bad_text)
        return ParsedCommand(message_id, message_type, envelope, None, error, **hints)
    payload = cast(CommandPayload, message.payload)
    return ParsedCommand(message_id, message_type, message, payload, None, **hints)


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None: for what is told of any body, poison or not
    (the parse above says why a body is poison instead)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested beyond reason
        return None
    return parsed if isinstance(parsed, dict) else None


def _load_object(body: bytes, max_bytes: int) -> dict[str, Any]:
    if len(body) > max_bytes:
        raise PoisonMessage(f"body of {len(body)} bytes is over the limit of {max_bytes}")
    try:
        raw = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PoisonMessage("body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise PoisonMessage("body is not JSON") from None
    if not isinstance(raw, dict):
        raise PoisonMessage("body is not a JSON object")
    return raw


def _check_header(raw: Mapping[str, Any]) -> tuple[str, MessageType]:
    """The poison checks on messageId, messageType and schemaVersion."""
    message_id = identifier_or_none(raw.get("messageId"))
    if message_id is None:
        raise PoisonMessage(
            "no usable messageId (a string of 1-128 characters of Unicode text without NUL)"
        )
    name = raw.get("messageType")
    if name is None:
        raise PoisonMessage("messageType is missing")
    try:
        message_type = MessageType(name)
    except ValueError:
        raise PoisonMessage(f"unknown messageType {str(name)[:64]!r}") from None
    if message_type not in COMMAND_TYPES:
        raise PoisonMessage(f"{message_type.value} is an event, not a command")
    version = raw.get("schemaVersion")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise PoisonMessage(f"unsupported schemaVersion {str(version)[:16]!r}; v1 accepts 1")
    return message_id, message_type


class _Hints(TypedDict):
    location_id: str | None
    correlation_id: str | None
    pos_table_id: str | None
    table_session_id: str | None
    submission_id: str | None
    order_context: Mapping[str, Any] | None


def _hints(raw: Mapping[str, Any], message_type: MessageType) -> _Hints:
    payload = raw.get("payload")
    payload = payload if isinstance(payload, Mapping) else {}
    context = payload.get("orderContext")
    context = context if isinstance(context, Mapping) else None
    table_fields = (
        payload if message_type is MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED else (context or {})
    )
    return {
        "location_id": identifier_or_none(raw.get("locationId")),
        "correlation_id": identifier_or_none(raw.get("correlationId")),
        "pos_table_id": identifier_or_none(table_fields.get("posTableId")),
        "table_session_id": identifier_or_none(table_fields.get("tableSessionId")),
        "submission_id": identifier_or_none(payload.get("submissionId")),
        "order_context": context
        if message_type is MessageType.ORDER_SUBMISSION_REQUESTED
        else None,
    }


def _envelope_if_valid(
    raw: Mapping[str, Any], exc: ValidationError, bad_text: list[str]
) -> Envelope | None:
    """The envelope alone, when every error is inside the payload (only then: it is the
    rare path, so validating again costs nothing on the common one)."""
    if any(error["loc"][:1] != ("payload",) for error in exc.errors()):
        return None
    if not all(map(_in_payload, bad_text)):
        return None
    return Envelope.model_validate(raw)


def _in_payload(path: str) -> bool:
    return path == "payload" or path.startswith(("payload.", "payload["))
