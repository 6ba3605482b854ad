"""The contract's JSON examples (§2, §4), completed where the contract elides ("660e...")."""

from __future__ import annotations

import copy
import json
from typing import Any

SESSION = "660e8400-e29b-41d4-a716-446655440000"

SNAPSHOT: dict[str, Any] = {
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

LINE: dict[str, Any] = {
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

PAYLOADS: dict[str, dict[str, Any]] = {
    "TableOrderSnapshotRequested": {
        "posTableId": "downtown-lima-15",
        "tableSessionId": SESSION,
        "reason": "SESSION_START",
    },
    "TableOrderSnapshotResolutionResult": {
        "posTableId": "downtown-lima-15",
        "tableSessionId": SESSION,
        "outcome": "RESOLVED",
        "streamId": "st-7d1c",
        "snapshot": SNAPSHOT,
        "rejection": None,
    },
    "OrderSubmissionRequested": {
        "submissionId": "sub-2f6a",
        "orderContext": {
            "type": "TABLE",
            "posTableId": "downtown-lima-15",
            "tableSessionId": SESSION,
        },
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
    "OrderSubmissionResult": {
        "submissionId": "sub-2f6a",
        "orderContext": {
            "type": "TABLE",
            "posTableId": "downtown-lima-15",
            "tableSessionId": SESSION,
        },
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
    "TableOrderSnapshotChanged": {
        "posTableId": "downtown-lima-15",
        "tableSessionId": SESSION,
        "streamId": "st-7d1c",
        "sequence": 3,
        "changeType": "POS_LINE_ADDED",
        "lines": [LINE],
        "discounts": [],
        "snapshot": {
            **SNAPSHOT,
            "lines": [LINE],
            "totals": {"subtotal": 900, "discountTotal": 0, "taxTotal": 0, "total": 900},
            "version": 3,
        },
    },
    "PosHealthReported": {
        "healthy": True,
        "softwareName": "pos-adapter",
        "softwareVersion": "0.1.0",
        "driver": "restai",
        "posReachable": True,
        "activeStreams": 12,
    },
}


def message(message_type: str, **envelope: Any) -> dict[str, Any]:
    """The §2 envelope around the §4 example payload of ``message_type``."""
    return {
        "messageId": "0f8c6a1e-6d1b-4bb7-9a43-0b0c6d1f2a11",
        "messageType": message_type,
        "schemaVersion": 1,
        "locationId": "downtown-lima",
        "occurredAt": "2026-11-21T19:00:00Z",
        "correlationId": None,
        "expiresAt": None,
        "payload": copy.deepcopy(PAYLOADS[message_type]),
        **envelope,
    }


def body(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw).encode()
