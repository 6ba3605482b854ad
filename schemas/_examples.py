"""The contract's example messages (§2, §4), completed where the contract elides ("660e...").

They live in the package, not in the tests, because the AsyncAPI document shows them;
the tests use the same ones. Every function returns a fresh copy, so callers may mutate it.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from ._envelope import MessageType

__all__ = [
    "NamedExample",
    "dead_letter_example",
    "document_examples",
    "example_message",
    "example_payload",
]

_T = MessageType
_SESSION = "660e8400-e29b-41d4-a716-446655440000"
_REQUEST_ID = "0f8c6a1e-6d1b-4bb7-9a43-0b0c6d1f2a11"

_SNAPSHOT: dict[str, Any] = {
    "posTableId": "downtown-lima-15",
    "tableName": "Mesa 15",
    "posOrderId": "ord-91",
    "orderStatus": "OPEN",
    "currency": "PEN",
    "lines": [],
    "discounts": [],
    "totals": {"subtotal": 0, "discountTotal": 0, "taxTotal": 0, "total": 0},
    "version": 0,
    "capturedAt": "2026-11-21T19:00:00.120Z",
}

_LINE: dict[str, Any] = {
    "posLineId": "ln-502",
    "productId": "chicha-morada",
    "name": "Chicha morada",
    "quantity": 1,
    "unitPrice": 900,
    "totalPrice": 900,
    "status": "PENDING",
    "origin": "POS",
    "openAppLineId": None,
    "notes": None,
    "modifiers": [],
}

_ORDER_CONTEXT: dict[str, Any] = {
    "type": "TABLE",
    "posTableId": "downtown-lima-15",
    "tableSessionId": _SESSION,
}

_PAYLOADS: dict[MessageType, dict[str, Any]] = {
    _T.TABLE_ORDER_SNAPSHOT_REQUESTED: {
        "posTableId": "downtown-lima-15",
        "tableSessionId": _SESSION,
        "reason": "SESSION_START",
    },
    _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: {
        "posTableId": "downtown-lima-15",
        "tableSessionId": _SESSION,
        "outcome": "RESOLVED",
        "streamId": "st-7d1c",
        "snapshot": _SNAPSHOT,
        "rejection": None,
    },
    _T.ORDER_SUBMISSION_REQUESTED: {
        "submissionId": "sub-2f6a",
        "orderContext": _ORDER_CONTEXT,
        "items": [
            {
                "lineId": "oa-line-1",
                "productId": "ceviche-clasico",
                "quantity": 2,
                "unitPrice": 3500,
                "notes": "sin cebolla",
                "modifiers": [],
            }
        ],
        "payment": None,
    },
    _T.ORDER_SUBMISSION_RESULT: {
        "submissionId": "sub-2f6a",
        "orderContext": _ORDER_CONTEXT,
        "outcome": "PARTIALLY_ACCEPTED",
        "posOrderId": "ord-91",
        "acceptedItems": [
            {"lineId": "oa-line-1", "posLineId": "ln-501", "quantity": 2, "unitPrice": 3500}
        ],
        "rejectedItems": [
            {
                "lineId": "oa-line-2",
                "reason": "PRICE_CHANGED",
                "message": "price is now 4200",
                "retryable": False,
                "posDetail": None,
                "currentUnitPrice": 4200,
                "availableQuantity": None,
            }
        ],
        "rejection": None,
        "receipt": None,
    },
    _T.TABLE_ORDER_SNAPSHOT_CHANGED: {
        "posTableId": "downtown-lima-15",
        "tableSessionId": _SESSION,
        "streamId": "st-7d1c",
        "sequence": 3,
        "changeType": "POS_LINE_ADDED",
        "lines": [_LINE],
        "discounts": [],
        "snapshot": {
            **_SNAPSHOT,
            "lines": [_LINE],
            "totals": {"subtotal": 900, "discountTotal": 0, "taxTotal": 0, "total": 900},
            "version": 3,
        },
    },
    _T.POS_HEALTH_REPORTED: {
        "healthy": True,
        "softwareName": "pos-adapter",
        "softwareVersion": "0.1.0",
        "driver": "restai",
        "posReachable": True,
        "activeStreams": 12,
    },
}

_TABLE_NOT_FOUND: dict[str, Any] = {
    "posTableId": "downtown-lima-99",
    "tableSessionId": _SESSION,
    "outcome": "REJECTED",
    "streamId": None,
    "snapshot": None,
    "rejection": {
        "reason": "TABLE_NOT_FOUND",
        "message": "the POS has no table downtown-lima-99",
        "retryable": False,
        "posDetail": "404 Not Found",
    },
}

_ORDER_CLOSED: dict[str, Any] = {
    "posTableId": "downtown-lima-15",
    "tableSessionId": _SESSION,
    "streamId": "st-7d1c",
    "sequence": 4,
    "changeType": "ORDER_CLOSED",
    "lines": [],
    "discounts": [],
    "snapshot": {
        **_PAYLOADS[_T.TABLE_ORDER_SNAPSHOT_CHANGED]["snapshot"],
        "orderStatus": "CLOSED",
        "version": 4,
        "capturedAt": "2026-11-21T20:15:02.310Z",
    },
}


def example_payload(message_type: MessageType) -> dict[str, Any]:
    """The contract's example payload of ``message_type``, with the wire names."""
    return copy.deepcopy(_PAYLOADS[message_type])


def example_message(message_type: MessageType, **envelope: Any) -> dict[str, Any]:
    """The §2 envelope around the §4 example payload; ``envelope`` overrides or adds fields."""
    return {
        "messageId": _REQUEST_ID,
        "messageType": message_type.value,
        "schemaVersion": 1,
        "locationId": "downtown-lima",
        "occurredAt": "2026-11-21T19:00:00Z",
        "correlationId": None,
        "expiresAt": None,
        "payload": example_payload(message_type),
        **envelope,
    }


class NamedExample(NamedTuple):
    name: str
    summary: str
    message: dict[str, Any]


_SUBMISSION_ID = "7b1d2c3e-5f60-4a1b-8c9d-0e1f2a3b4c5d"
_IDS: dict[MessageType, tuple[str, str | None]] = {
    # messageId, correlationId: a result answers its request, a change the snapshot
    # request that opened its stream (contract §2).
    _T.TABLE_ORDER_SNAPSHOT_REQUESTED: (_REQUEST_ID, None),
    _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: (
        "c2a4e6f8-0b1d-4e3f-9a5b-7c9d1e3f5a7b", _REQUEST_ID
    ),
    _T.ORDER_SUBMISSION_REQUESTED: (_SUBMISSION_ID, None),
    _T.ORDER_SUBMISSION_RESULT: ("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", _SUBMISSION_ID),
    _T.TABLE_ORDER_SNAPSHOT_CHANGED: ("4d5e6f70-8192-4a3b-9c4d-5e6f70819203", _REQUEST_ID),
    _T.POS_HEALTH_REPORTED: ("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", None),
}
_EXTRA: dict[MessageType, list[tuple[str, str, dict[str, Any], dict[str, Any]]]] = {
    # name, summary, payload, the envelope fields of its own
    _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: [
        ("tableNotFound", "A rejection: the POS does not know the table.", _TABLE_NOT_FOUND,
         {"messageId": "d3b5f7a9-1c2e-4f4a-8b6c-8d0e2f4a6b8c"}),
    ],
    _T.TABLE_ORDER_SNAPSHOT_CHANGED: [
        ("orderClosed", "The last message of a stream: the check as last seen.", _ORDER_CLOSED,
         {"messageId": "5e6f7081-92a3-4b4c-8d5e-6f708192a3b4",
          "occurredAt": "2026-11-21T20:15:02Z"}),
    ],
}


def document_examples(message_type: MessageType) -> list[NamedExample]:
    """The examples the AsyncAPI document shows: the contract's, then the notable other
    cases, as whole messages whose ids relate a result to its request."""
    message_id, correlation_id = _IDS[message_type]
    envelope = {"messageId": message_id, "correlationId": correlation_id}
    examples = [NamedExample("contract", "The example of the contract.",
                             example_message(message_type, **envelope))]
    for name, summary, payload, own in _EXTRA.get(message_type, []):
        message = example_message(
            message_type, **{**envelope, **own}, payload=copy.deepcopy(payload)
        )
        examples.append(NamedExample(name, summary, message))
    return examples


def dead_letter_example() -> NamedExample:
    """A command from a future contract version, as the adapter dead-letters it; the
    example's ``message`` is the body as received."""
    body = example_message(_T.TABLE_ORDER_SNAPSHOT_REQUESTED, schemaVersion=2)
    return NamedExample("unsupportedSchemaVersion", "A command of a schemaVersion v1 does not "
                        "know, copied with the reason.", body)
