"""Which payload model goes with which messageType, and building outgoing messages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar, cast

from ._changes import TableOrderSnapshotChanged
from ._common import WireModel
from ._envelope import SCHEMA_VERSION, Message, MessageType
from ._health import PosHealthReported
from ._snapshot import TableOrderSnapshotRequested, TableOrderSnapshotResolutionResult
from ._submission import OrderSubmissionRequested, OrderSubmissionResult
from ._time import utc_now

__all__ = [
    "COMMAND_TYPES",
    "MESSAGE_MODELS",
    "PAYLOAD_MODELS",
    "RESULT_TYPES",
    "CommandPayload",
    "build_message",
    "message_type_of",
]

_T = MessageType

PAYLOAD_MODELS: Mapping[MessageType, type[WireModel]] = MappingProxyType(
    {
        _T.TABLE_ORDER_SNAPSHOT_REQUESTED: TableOrderSnapshotRequested,
        _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: TableOrderSnapshotResolutionResult,
        _T.ORDER_SUBMISSION_REQUESTED: OrderSubmissionRequested,
        _T.ORDER_SUBMISSION_RESULT: OrderSubmissionResult,
        _T.TABLE_ORDER_SNAPSHOT_CHANGED: TableOrderSnapshotChanged,
        _T.POS_HEALTH_REPORTED: PosHealthReported,
    }
)
"""The payload model of every message type, in the contract's order."""

MESSAGE_MODELS: Mapping[MessageType, type[Message[Any]]] = MappingProxyType(
    {message_type: Message[model] for message_type, model in PAYLOAD_MODELS.items()}  # type: ignore[valid-type]
)
"""The whole-message model (envelope and typed payload) of every message type."""

RESULT_TYPES: Mapping[MessageType, MessageType] = MappingProxyType(
    {
        _T.TABLE_ORDER_SNAPSHOT_REQUESTED: _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT,
        _T.ORDER_SUBMISSION_REQUESTED: _T.ORDER_SUBMISSION_RESULT,
    }
)
"""Each command (OpenApp -> POS) and the type of the result that answers it."""

COMMAND_TYPES = frozenset(RESULT_TYPES)
"""The message types the adapter consumes; every other type is an event it publishes."""

CommandPayload = TableOrderSnapshotRequested | OrderSubmissionRequested

_TYPE_OF: Mapping[type[WireModel], MessageType] = {
    model: message_type for message_type, model in PAYLOAD_MODELS.items()
}

_PayloadT = TypeVar("_PayloadT", bound=WireModel)


def message_type_of(payload: WireModel) -> MessageType:
    """The messageType a payload travels under; KeyError for a model that is no payload."""
    return _TYPE_OF[type(payload)]


def build_message(
    payload: _PayloadT,
    *,
    location_id: str,
    correlation_id: str | None = None,
    message_id: str | None = None,
    occurred_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Message[_PayloadT]:
    """Wrap a payload in a new envelope: a fresh uuid4 messageId and now (UTC) unless given.

    A message published again must be given its first messageId. Serialise the result
    with :func:`encode_message`.
    """
    model = MESSAGE_MODELS[message_type_of(payload)]
    message = model(
        message_id=message_id if message_id is not None else str(uuid.uuid4()),
        message_type=message_type_of(payload),
        schema_version=SCHEMA_VERSION,
        location_id=location_id,
        occurred_at=occurred_at if occurred_at is not None else utc_now(),
        correlation_id=correlation_id,
        expires_at=expires_at,
        payload=payload,
    )
    # A string: evaluating Message[_PayloadT] here would build (and drop) a model class.
    return cast("Message[_PayloadT]", message)
