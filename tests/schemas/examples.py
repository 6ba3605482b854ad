"""The contract's examples (§2, §4), from the package, under the names the tests use."""

from __future__ import annotations

import json
from typing import Any

from schemas import MessageType, example_message, example_payload

PAYLOADS: dict[str, dict[str, Any]] = {t.value: example_payload(t) for t in MessageType}
SNAPSHOT: dict[str, Any] = PAYLOADS["TableOrderSnapshotResolutionResult"]["snapshot"]
LINE: dict[str, Any] = PAYLOADS["TableOrderSnapshotChanged"]["lines"][0]


def message(message_type: str, **envelope: Any) -> dict[str, Any]:
    """The §2 envelope around the §4 example payload of ``message_type``."""
    return example_message(MessageType(message_type), **envelope)


def body(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw).encode()
