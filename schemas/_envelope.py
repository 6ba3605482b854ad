"""The envelope every message travels in (§2).

:class:`Envelope` is the header alone; :class:`Message` is the header with its typed
payload, the unit that is validated and serialised in one pass.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from ._common import Identifier, Timestamp, WireModel

__all__ = ["SCHEMA_VERSION", "Envelope", "Message", "MessageType", "encode_message"]

SCHEMA_VERSION = 1


class MessageType(StrEnum):
    TABLE_ORDER_SNAPSHOT_REQUESTED = "TableOrderSnapshotRequested"
    TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT = "TableOrderSnapshotResolutionResult"
    ORDER_SUBMISSION_REQUESTED = "OrderSubmissionRequested"
    ORDER_SUBMISSION_RESULT = "OrderSubmissionResult"
    TABLE_ORDER_SNAPSHOT_CHANGED = "TableOrderSnapshotChanged"
    POS_HEALTH_REPORTED = "PosHealthReported"


def _integer_only(value: Any) -> Any:
    """Literal[1] alone would take ``true`` and ``1.0``, which are not the integer 1."""
    if type(value) is not int:
        raise PydanticCustomError("int_type", "must be an integer")
    return value


class Envelope(WireModel):
    """The fields every message has, whatever its type."""

    message_id: Identifier
    message_type: MessageType
    schema_version: Annotated[Literal[1], BeforeValidator(_integer_only)]
    location_id: Identifier
    occurred_at: Timestamp
    correlation_id: Identifier | None = None
    expires_at: Timestamp | None = None


PayloadT = TypeVar("PayloadT", bound=WireModel)


class Message(Envelope, Generic[PayloadT]):
    """A whole message: the envelope and its payload."""

    payload: PayloadT


def encode_message(message: Message[PayloadT]) -> bytes:
    """Compact UTF-8 JSON with the wire names, straight from pydantic-core."""
    return message.__pydantic_serializer__.to_json(message, by_alias=True)
