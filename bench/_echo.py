"""A bare aio-pika echo worker: the adapter's shape of work minus the POS and the store.

    python -m bench._echo --location LOC --queue QUEUE [--prefetch 32] [--amqp-url URL]

It declares a quorum queue with single active consumer (as the adapter's command queue
is by default) bound to ``openapp.commands`` with ``<LOC>.#``, consumes it with manual
acks and the same prefetch, and for each command: parses the JSON envelope, builds a
result envelope of about the adapter's size (a resolved snapshot with three lines),
publishes it persistent and mandatory to ``openapp.events`` with publisher confirms,
waits for the confirm, then acks. It runs on uvloop, as ``pos-adapter run`` does, until
SIGTERM or SIGINT. The benchmark deletes the queue afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika import DeliveryMode, ExchangeType, Message
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from bench._support import COMMANDS_EXCHANGE, EVENTS_EXCHANGE, amqp_url_from_env, run

RESULT_TYPE = {
    "TableOrderSnapshotRequested": "TableOrderSnapshotResolutionResult",
    "OrderSubmissionRequested": "OrderSubmissionResult",
}


def _line(n: int) -> dict[str, Any]:
    return {
        "posLineId": f"ln-{n}", "productId": "causa", "name": "Causa limeña", "quantity": 1,
        "unitPrice": 2200, "totalPrice": 2200, "status": "PENDING", "origin": "POS",
        "openAppLineId": None, "notes": None, "modifiers": [],
    }


def _result_payload(request: dict[str, Any]) -> dict[str, Any]:
    """A resolved snapshot of a table with three lines: about what the adapter sends."""
    table = request.get("posTableId", "T1")
    return {
        "posTableId": table,
        "tableSessionId": request.get("tableSessionId"),
        "outcome": "RESOLVED",
        "streamId": "st-echo",
        "snapshot": {
            "posTableId": table, "tableName": f"Mesa {table}", "posOrderId": "ord-1",
            "orderStatus": "OPEN", "currency": "PEN", "lines": [_line(n) for n in range(3)],
            "discounts": [],
            "totals": {"subtotal": 6600, "discountTotal": 0, "taxTotal": 0, "total": 6600},
            "version": 0, "capturedAt": datetime.now(UTC).isoformat(),
        },
        "rejection": None,
    }


class Echo:
    def __init__(self, events: AbstractExchange, location_id: str) -> None:
        self.events = events
        self.location_id = location_id

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        request = json.loads(message.body)
        now = datetime.now(UTC)
        result_type = RESULT_TYPE.get(request.get("messageType"), "EchoResult")
        envelope = {
            "messageId": str(uuid.uuid4()),
            "messageType": result_type,
            "schemaVersion": 1,
            "locationId": self.location_id,
            "occurredAt": now.isoformat(),
            "correlationId": request["messageId"],
            "expiresAt": None,
            "payload": _result_payload(request.get("payload") or {}),
        }
        await self.events.publish(
            Message(
                json.dumps(envelope).encode(),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=DeliveryMode.PERSISTENT,
                message_id=envelope["messageId"],
                correlation_id=request["messageId"],
                type=result_type,
                timestamp=now,
                app_id="bench-echo",
                headers={"schemaVersion": 1},
            ),
            routing_key=f"{self.location_id}.{result_type}",
            mandatory=True,
        )
        await message.ack()


async def serve(amqp_url: str, location_id: str, queue_name: str, prefetch: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    connection = await aio_pika.connect_robust(
        amqp_url, client_properties={"connection_name": f"bench-echo {location_id}"}
    )
    async with connection:
        consume = await connection.channel()
        await consume.set_qos(prefetch_count=prefetch)
        commands = await consume.declare_exchange(
            COMMANDS_EXCHANGE, ExchangeType.TOPIC, durable=True
        )
        queue = await consume.declare_queue(
            queue_name,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
        )
        await queue.bind(commands, routing_key=f"{location_id}.#")
        publish = await connection.channel(publisher_confirms=True, on_return_raises=True)
        events = await publish.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
        tag = await queue.consume(Echo(events, location_id).on_message, no_ack=False)
        await stop.wait()
        await queue.cancel(tag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--location", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--prefetch", type=int, default=32)
    args = parser.parse_args()
    run(serve(args.amqp_url, args.location, args.queue, args.prefetch))


if __name__ == "__main__":
    main()
