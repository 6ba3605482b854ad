"""The contract as an AsyncAPI 3.0 document: exchanges, queues and messages, from the models.

Message payloads are the JSON Schemas of :func:`message_json_schema`, with their
definitions moved to ``components.schemas`` (shared by every message that uses them): a
``#/$defs/...`` reference would not resolve inside a bigger document. What pydantic writes
uses no JSON Schema keyword that the AsyncAPI Schema Object (a draft-07 superset) lacks, so
the payloads keep the default schema format that AsyncAPI tools render.

The topology is the adapter's defaults (``adapter.settings``, ``adapter.amqp``): this
package sits below the adapter and does not import it; a test keeps the two in step.
"""

from __future__ import annotations

import json
from typing import Any

from ._envelope import SCHEMA_VERSION, MessageType
from ._errors import PoisonMessage
from ._examples import NamedExample, dead_letter_example, document_examples
from ._json_schema import message_json_schema
from ._parse import parse_command
from ._registry import COMMAND_TYPES, MESSAGE_MODELS, RESULT_TYPES

__all__ = ["asyncapi_document"]

_ASYNCAPI_VERSION = "3.0.0"
_COMMANDS_EXCHANGE = "openapp.commands"
_EVENTS_EXCHANGE = "openapp.events"
_DEAD_LETTER_EXCHANGE = "openapp.dead-letter"
_DEAD_LETTER_HEADER = "x-pos-adapter-error"
_MAX_REDELIVERIES = 5
_INBOX_TTL_MS = 7 * 24 * 3600 * 1000
_BINDING_VERSION = "0.3.0"
_DEFS = "#/$defs/"
_SCHEMAS = "#/components/schemas/"
_T = MessageType

_TITLES = {
    _T.TABLE_ORDER_SNAPSHOT_REQUESTED: "Table order snapshot requested",
    _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: "Table order snapshot resolution result",
    _T.ORDER_SUBMISSION_REQUESTED: "Order submission requested",
    _T.ORDER_SUBMISSION_RESULT: "Order submission result",
    _T.TABLE_ORDER_SNAPSHOT_CHANGED: "Table order snapshot changed",
    _T.POS_HEALTH_REPORTED: "POS health reported",
}
_SUMMARIES = {
    _T.TABLE_ORDER_SNAPSHOT_REQUESTED: "OpenApp asks for a table's check and, with it, for "
    "the table's change stream.",
    _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: "The table's check with every line on it and "
    "the stream's id (RESOLVED), or why not (REJECTED).",
    _T.ORDER_SUBMISSION_REQUESTED: "OpenApp adds a diner's items to a table's check; "
    "applied at most once per submissionId.",
    _T.ORDER_SUBMISSION_RESULT: "Each submitted item accepted or rejected with a reason, or "
    "the whole submission rejected.",
    _T.TABLE_ORDER_SNAPSHOT_CHANGED: "One change on a watched table, in sequence, with the "
    "full snapshot after it; ORDER_CLOSED ends the stream.",
    _T.POS_HEALTH_REPORTED: "The adapter's heartbeat, every POS_ADAPTER_HEALTH_INTERVAL "
    "(30 s): its own verdict, and whether the POS answered.",
}
_SECTIONS = {
    _T.TABLE_ORDER_SNAPSHOT_REQUESTED: "4.1",
    _T.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT: "4.2",
    _T.ORDER_SUBMISSION_REQUESTED: "4.3",
    _T.ORDER_SUBMISSION_RESULT: "4.4",
    _T.TABLE_ORDER_SNAPSHOT_CHANGED: "4.5",
    _T.POS_HEALTH_REPORTED: "4.6",
}
_COMMANDS = [t for t in MessageType if t in COMMAND_TYPES]
_EVENTS = [t for t in MessageType if t not in COMMAND_TYPES]
_DEAD_LETTER = "DeadLetter"

_INFO_DESCRIPTION = """\
The OpenApp POS contract (wire contract v1) as pos-adapter implements it on RabbitMQ
(AMQP 0-9-1).

- OpenApp publishes commands to the topic exchange `openapp.commands` with the routing key
  `<locationId>.<messageType>`; the adapter consumes them from its queue
  `pos-adapter.<locationId>`.
- The adapter publishes results, changes and health reports to the topic exchange
  `openapp.events` with the routing key `<locationId>.<messageType>`: persistent, mandatory,
  with publisher confirms.
- A command that cannot be answered is copied to the direct exchange `openapp.dead-letter`
  with the routing key `<locationId>`.

Every body is one UTF-8 JSON object, at most 256 KiB: the envelope (`messageId`,
`messageType`, `schemaVersion`, `locationId`, `occurredAt`, `correlationId`, `expiresAt`)
and its typed `payload`. Consumers de-duplicate by `messageId`: a message published again
keeps it. The exchange names, the queue type and the limits are the adapter's defaults;
each is a `POS_ADAPTER_*` setting.

Generated from the adapter's models by `pos-adapter schema --asyncapi FILE`."""


def asyncapi_document(version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the contract; ``version`` is the adapter's version."""
    messages, schemas = _messages()
    return {
        "asyncapi": _ASYNCAPI_VERSION,
        "info": {
            "title": "pos-adapter: the OpenApp POS contract on RabbitMQ",
            "version": version,
            "description": _INFO_DESCRIPTION,
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "title": "RabbitMQ",
                "description": "A placeholder: the broker is wherever `POS_ADAPTER_AMQP_URL` "
                "points (`amqps://` works too, and so does a comma-separated list of the "
                "nodes of a cluster).",
            }
        },
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "messages": messages,
            "schemas": schemas,
            "parameters": _parameters(),
        },
    }


def _ref(*path: str) -> dict[str, str]:
    """A Reference Object; ``/`` in a name would need escaping, and no name has one."""
    return {"$ref": "#/" + "/".join(path)}


def _message_refs(message_names: list[str]) -> dict[str, Any]:
    return {name: _ref("components", "messages", name) for name in message_names}


def _names(message_types: list[MessageType]) -> list[str]:
    return [t.value for t in message_types]


def _exchange_channel(
    address: str, exchange: str, kind: str, description: str, message_names: list[str]
) -> dict[str, Any]:
    parameters = [part.strip("{}") for part in address.split(".")]
    return {
        "address": address,
        "title": exchange,
        "description": description,
        "parameters": {name: _ref("components", "parameters", name) for name in parameters},
        "messages": _message_refs(message_names),
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": kind,
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": _BINDING_VERSION,
            }
        },
    }


def _queue_channel(
    address: str,
    description: str,
    message_names: list[str],
    arguments: dict[str, Any],
    bound_to: tuple[str, str],
) -> dict[str, Any]:
    """The AMQP binding has no field for a queue's arguments or bindings: they go in
    ``x-`` extensions, so that a reader can declare the same queue."""
    exchange, routing_key = bound_to
    return {
        "address": address,
        "title": address.replace("{locationId}", "<locationId>"),
        "description": description,
        "parameters": {"locationId": _ref("components", "parameters", "locationId")},
        "messages": _message_refs(message_names),
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": address,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "x-arguments": arguments,
                "x-bound-to": {"exchange": exchange, "routingKey": routing_key},
                "bindingVersion": _BINDING_VERSION,
            }
        },
    }


def _channels() -> dict[str, Any]:
    commands, events = _names(_COMMANDS), _names(_EVENTS)
    return {
        "commands": _exchange_channel(
            "{locationId}.{commandType}", _COMMANDS_EXCHANGE, "topic",
            "OpenApp publishes each command to this topic exchange; the adapter's command "
            "queue takes those of its location.", commands),
        "commandQueue": _queue_channel(
            "pos-adapter.{locationId}",
            "The adapter's command queue: a quorum queue with a single active consumer "
            "(`POS_ADAPTER_QUEUE_TYPE=classic` makes it a classic queue, without the "
            "delivery limit). A command that keeps crashing the handler is dead-lettered "
            "on its last of `POS_ADAPTER_MAX_REDELIVERIES` redeliveries.",
            commands,
            {
                "x-dead-letter-exchange": _DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": "{locationId}",
                "x-single-active-consumer": True,
                "x-queue-type": "quorum",
                "x-delivery-limit": _MAX_REDELIVERIES,
            },
            (_COMMANDS_EXCHANGE, "{locationId}.#"),
        ),
        "events": _exchange_channel(
            "{locationId}.{eventType}", _EVENTS_EXCHANGE, "topic",
            "The adapter publishes results, changes and health reports to this topic "
            "exchange, each persistent and mandatory, with publisher confirms; one the "
            "broker returns as unroutable is sent again later.", events),
        "openappInbox": _queue_channel(
            "openapp.inbox.{locationId}",
            "Declared by the adapter so that no event is dropped before OpenApp binds a "
            "queue of its own; its messages expire after `POS_ADAPTER_INBOX_TTL` (7 days). "
            "`POS_ADAPTER_INBOX_QUEUE=false` leaves it out.",
            events,
            {"x-message-ttl": _INBOX_TTL_MS},
            (_EVENTS_EXCHANGE, "{locationId}.#"),
        ),
        "deadLetter": _exchange_channel(
            "{locationId}", _DEAD_LETTER_EXCHANGE, "direct",
            "Commands that cannot be answered, with the routing key of the adapter's "
            "location.", [_DEAD_LETTER]),
        "deadLetterQueue": _queue_channel(
            "pos-adapter.{locationId}.dead-letter",
            "Where dead letters wait for an operator (`pos-adapter dlq`); a classic queue "
            "unless `POS_ADAPTER_DEAD_LETTER_QUEUE_TYPE=quorum`.",
            [_DEAD_LETTER],
            {"x-queue-type": "classic"},
            (_DEAD_LETTER_EXCHANGE, "{locationId}"),
        ),
    }


def _parameters() -> dict[str, Any]:
    return {
        "locationId": {
            "description": "The OpenApp location: the envelope's `locationId` for commands; "
            "the adapter's own location for what the adapter publishes.",
            "examples": ["downtown-lima"],
        },
        "commandType": {
            "description": "The command's `messageType`.",
            "enum": _names(_COMMANDS),
            "location": "$message.payload#/messageType",
        },
        "eventType": {
            "description": "The event's `messageType`.",
            "enum": _names(_EVENTS),
            "location": "$message.payload#/messageType",
        },
    }


def _send_bindings() -> dict[str, Any]:
    """As the relay publishes: persistent, mandatory, stamped with occurredAt."""
    return {
        "amqp": {
            "deliveryMode": 2,
            "mandatory": True,
            "timestamp": True,
            "bindingVersion": _BINDING_VERSION,
        }
    }


def _operations() -> dict[str, Any]:
    replies = {result: command for command, result in RESULT_TYPES.items()}
    operations: dict[str, Any] = {}
    for command in _COMMANDS:
        result = RESULT_TYPES[command].value
        operations[f"receive{command.value}"] = {
            "action": "receive",
            "channel": _ref("channels", "commandQueue"),
            "summary": f"Handle {command.value}; answer with {result}.",
            "messages": [_ref("channels", "commandQueue", "messages", command.value)],
            "reply": {
                "channel": _ref("channels", "events"),
                "messages": [_ref("channels", "events", "messages", result)],
            },
            "bindings": {"amqp": {"ack": True, "bindingVersion": _BINDING_VERSION}},
        }
    for event in _EVENTS:
        answered = replies.get(event)
        summary = (f"Answer {answered.value}." if answered is not None
                   else _SUMMARIES[event])
        operations[f"send{event.value}"] = {
            "action": "send",
            "channel": _ref("channels", "events"),
            "summary": summary,
            "messages": [_ref("channels", "events", "messages", event.value)],
            "bindings": _send_bindings(),
        }
    operations["sendDeadLetter"] = {
        "action": "send",
        "channel": _ref("channels", "deadLetter"),
        "summary": "Copy a command that cannot be answered to the dead-letter exchange.",
        "description": "Poison (not JSON, no usable messageId, an unknown messageType or "
        "schemaVersion, over the size limit) and a command that keeps crashing the handler "
        f"are copied with the header `{_DEAD_LETTER_HEADER}` saying why; once the broker "
        "confirms the copy, the original is acked. When the copy fails, the adapter "
        "rejects the original and the broker dead-letters it, with its `x-death` header "
        "instead.",
        "messages": [_ref("channels", "deadLetter", "messages", _DEAD_LETTER)],
        "bindings": _send_bindings(),
    }
    return operations


def _messages() -> tuple[dict[str, Any], dict[str, Any]]:
    """Every message of the contract, and the schemas their payloads share."""
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for message_type in MessageType:
        payload = message_json_schema(message_type)
        payload.pop("$schema")
        for name, definition in _to_components(payload.pop("$defs", {})).items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name}")
        messages[message_type.value] = _message(message_type, _to_components(payload))
    messages[_DEAD_LETTER] = _dead_letter_message()
    return messages, dict(sorted(schemas.items()))


def _to_components(node: Any) -> Any:
    """``node`` with its ``#/$defs/`` references pointing into ``components.schemas``."""
    if isinstance(node, dict):
        return {
            key: _SCHEMAS + value.removeprefix(_DEFS)
            if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS)
            else _to_components(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_to_components(value) for value in node]
    return node


def _message(message_type: MessageType, payload: dict[str, Any]) -> dict[str, Any]:
    command = message_type in COMMAND_TYPES
    direction = "OpenApp → POS" if command else "POS → OpenApp"
    message: dict[str, Any] = {
        "name": message_type.value,
        "title": _TITLES[message_type],
        "summary": _SUMMARIES[message_type],
        "description": f"{direction}; contract §{_SECTIONS[message_type]}.",
        "contentType": "application/json",
        "headers": _headers(required=not command),
        "payload": payload,
    }
    if message_type is not _T.POS_HEALTH_REPORTED and not command:
        message["correlationId"] = {
            "description": "A result: the messageId of its request. A change: the messageId "
            "of the snapshot request that opened the stream.",
            "location": "$message.payload#/correlationId",
        }
    message["bindings"] = {
        "amqp": {
            "contentEncoding": "utf-8",
            "messageType": message_type.value,
            "bindingVersion": _BINDING_VERSION,
        }
    }
    message["examples"] = [_example(message_type, example)
                           for example in document_examples(message_type)]
    return message


def _headers(*, required: bool) -> dict[str, Any]:
    """The AMQP header the adapter sets on every message it publishes; commands may lack it
    (the body's ``schemaVersion`` is the one that counts)."""
    headers: dict[str, Any] = {
        "type": "object",
        "properties": {
            "schemaVersion": {
                "type": "integer",
                "const": SCHEMA_VERSION,
                "description": "The body's schemaVersion.",
            }
        },
    }
    if required:
        headers["required"] = ["schemaVersion"]
    return headers


def _example(message_type: MessageType, example: NamedExample) -> dict[str, Any]:
    """The example as the models read and write it (defaults filled in, canonical times)."""
    model = MESSAGE_MODELS[message_type].model_validate(example.message)
    return {
        "name": example.name,
        "summary": example.summary,
        "headers": {"schemaVersion": SCHEMA_VERSION},
        "payload": model.model_dump(mode="json", by_alias=True),
    }


def _dead_letter_message() -> dict[str, Any]:
    example = dead_letter_example()
    reason = _poison_reason(json.dumps(example.message).encode())
    return {
        "name": _DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A command that cannot be answered, with the body and properties it "
        "came with.",
        "description": "Not a message of the contract: what the adapter (or the broker, "
        "for the adapter) moves aside for an operator. The body may be anything, not even "
        "JSON: that can be why it is here.",
        "headers": {
            "type": "object",
            "properties": {
                _DEAD_LETTER_HEADER: {
                    "type": "string",
                    "description": "Why the adapter dead-lettered it.",
                },
                "x-death": {
                    "type": "array",
                    "description": "Set by the broker when it dead-lettered the message.",
                },
            },
        },
        "payload": {"description": "The body as received."},
        "examples": [
            {
                "name": example.name,
                "summary": example.summary,
                "headers": {"schemaVersion": SCHEMA_VERSION, _DEAD_LETTER_HEADER: reason},
                "payload": example.message,
            }
        ],
    }


def _poison_reason(body: bytes) -> str:
    """The reason the adapter gives when it dead-letters ``body``: its own words."""
    try:
        parse_command(body)
    except PoisonMessage as poison:
        return poison.reason
    raise ValueError("the dead-letter example is not poison")
