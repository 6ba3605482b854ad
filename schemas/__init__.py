"""The OpenApp POS wire contract v1 as pydantic models (no I/O), and the AMQP headers
the adapter writes, reads or drops.

Python attributes are snake_case; the wire names are camelCase (``snapshot.pos_table_id``
is ``posTableId``). Incoming commands go through :func:`parse_command`; outgoing messages
are made with :func:`build_message` and serialised with :func:`encode_message`.
"""

from ._asyncapi import asyncapi_document
from ._changes import TableOrderSnapshotChanged
from ._common import (
    ChangeType,
    Discount,
    ItemRejectionReason,
    Line,
    LineOrigin,
    LineStatus,
    Modifier,
    OrderContextType,
    OrderStatus,
    Rejection,
    RejectionReason,
    Snapshot,
    SnapshotOutcome,
    SnapshotReason,
    SubmissionOutcome,
    Totals,
    WireModel,
    compute_totals,
    identifier_or_none,
    line_total,
)
from ._envelope import SCHEMA_VERSION, Envelope, Message, MessageType, encode_message
from ._errors import PoisonMessage, describe_validation_error
from ._examples import example_message, example_payload
from ._headers import (
    BROKER_HEADERS,
    DEATH_HEADER,
    DELIVERY_COUNT_HEADER,
    ERROR_HEADER,
    REPLAY_HEADER,
)
from ._health import PosHealthReported
from ._json_schema import message_json_schema, message_json_schemas
from ._memo import ByIdentity
from ._parse import DEFAULT_MAX_BYTES, ParsedCommand, json_object, parse_command
from ._registry import (
    COMMAND_TYPES,
    MESSAGE_MODELS,
    PAYLOAD_MODELS,
    RESULT_TYPES,
    CommandPayload,
    build_message,
    message_type_of,
)
from ._snapshot import (
    SNAPSHOT_REJECTION_REASONS,
    TableOrderSnapshotRequested,
    TableOrderSnapshotResolutionResult,
)
from ._stored import grown_lines_json, same_lines_json, snapshot_json
from ._submission import (
    SUBMISSION_REJECTION_REASONS,
    AcceptedItem,
    EchoedOrderContext,
    OrderContext,
    OrderSubmissionRequested,
    OrderSubmissionResult,
    Payment,
    Receipt,
    RejectedItem,
    SubmissionItem,
    SubmissionModifier,
)
from ._text import is_storable, storable
from ._time import as_utc, utc_from_iso, utc_now

__all__ = [
    "BROKER_HEADERS",
    "COMMAND_TYPES",
    "DEATH_HEADER",
    "DEFAULT_MAX_BYTES",
    "DELIVERY_COUNT_HEADER",
    "ERROR_HEADER",
    "MESSAGE_MODELS",
    "PAYLOAD_MODELS",
    "REPLAY_HEADER",
    "RESULT_TYPES",
    "SCHEMA_VERSION",
    "SNAPSHOT_REJECTION_REASONS",
    "SUBMISSION_REJECTION_REASONS",
    "AcceptedItem",
    "ByIdentity",
    "ChangeType",
    "CommandPayload",
    "Discount",
    "EchoedOrderContext",
    "Envelope",
    "ItemRejectionReason",
    "Line",
    "LineOrigin",
    "LineStatus",
    "Message",
    "MessageType",
    "Modifier",
    "OrderContext",
    "OrderContextType",
    "OrderStatus",
    "OrderSubmissionRequested",
    "OrderSubmissionResult",
    "ParsedCommand",
    "Payment",
    "PoisonMessage",
    "PosHealthReported",
    "Receipt",
    "RejectedItem",
    "Rejection",
    "RejectionReason",
    "Snapshot",
    "SnapshotOutcome",
    "SnapshotReason",
    "SubmissionItem",
    "SubmissionModifier",
    "SubmissionOutcome",
    "TableOrderSnapshotChanged",
    "TableOrderSnapshotRequested",
    "TableOrderSnapshotResolutionResult",
    "Totals",
    "WireModel",
    "as_utc",
    "asyncapi_document",
    "build_message",
    "compute_totals",
    "describe_validation_error",
    "encode_message",
    "example_message",
    "example_payload",
    "grown_lines_json",
    "identifier_or_none",
    "is_storable",
    "json_object",
    "line_total",
    "message_json_schema",
    "message_json_schemas",
    "message_type_of",
    "parse_command",
    "same_lines_json",
    "snapshot_json",
    "storable",
    "utc_from_iso",
    "utc_now",
]
