"""JSON Schema export: one file per message type, the whole message with its payload.

Commands are described as the adapter validates them (``validation`` mode: defaults make
fields optional); results and events as the adapter writes them (``serialization`` mode:
every field it always writes is required), which is what a consumer can rely on.
"""

from __future__ import annotations

from typing import Any, Literal

from ._envelope import MessageType
from ._registry import COMMAND_TYPES, MESSAGE_MODELS

__all__ = ["message_json_schema", "message_json_schemas"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DEFS = "#/$defs/"


def message_json_schema(message_type: MessageType) -> dict[str, Any]:
    """The JSON Schema of one message type, wire names, ``messageType`` fixed to the type."""
    mode: Literal["validation", "serialization"]
    mode = "validation" if message_type in COMMAND_TYPES else "serialization"
    schema = MESSAGE_MODELS[message_type].model_json_schema(by_alias=True, mode=mode)
    schema["properties"]["messageType"] = {"const": message_type.value, "type": "string"}
    schema["$defs"] = _referenced(schema["$defs"], schema["properties"])
    return {"$schema": _DIALECT, **schema, "title": message_type.value}


def _referenced(defs: dict[str, Any], root: Any) -> dict[str, Any]:
    """The definitions ``root`` uses, directly or not: fixing ``messageType`` to a constant
    leaves the ``MessageType`` enum unused, and a reader should not wonder where it goes."""
    used: dict[str, Any] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_DEFS):
                name = ref.removeprefix(_DEFS)
                if name not in used:
                    used[name] = defs[name]
                    pending.append(defs[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return {name: value for name, value in defs.items() if name in used}


def message_json_schemas() -> dict[MessageType, dict[str, Any]]:
    """The JSON Schema of every message type of the contract."""
    return {message_type: message_json_schema(message_type) for message_type in MessageType}
