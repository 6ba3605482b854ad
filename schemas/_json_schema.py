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


def message_json_schema(message_type: MessageType) -> dict[str, Any]:
    """The JSON Schema of one message type, wire names, ``messageType`` fixed to the type."""
    mode: Literal["validation", "serialization"]
    mode = "validation" if message_type in COMMAND_TYPES else "serialization"
    schema = MESSAGE_MODELS[message_type].model_json_schema(by_alias=True, mode=mode)
    schema["properties"]["messageType"] = {"const": message_type.value, "type": "string"}
    return {"$schema": _DIALECT, **schema, "title": message_type.value}


def message_json_schemas() -> dict[MessageType, dict[str, Any]]:
    """The JSON Schema of every message type of the contract."""
    return {message_type: message_json_schema(message_type) for message_type in MessageType}
