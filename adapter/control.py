"""Operator requests to the running worker, over the broker: ``pos-adapter resync``.

Reading a table and pushing what changed must happen inside the process that serves the
location: under its table lock, on its streams. The CLI therefore asks over the broker:
it publishes to the direct exchange ``pos-adapter.control`` with the location as routing
key, and RabbitMQ's direct reply-to brings the answer back. Each process has one
exclusive control queue, bound with the id of every location it serves (and unbound when
it gives one up), so a request reaches the process that serves the location; none serving
it means the request is unroutable, and the CLI says so at once. One queue per process,
not per location: a broker's queues are not free (see docs/deployment.md).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aio_pika import ExchangeType, Message
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue

from pos_drivers import PosError

log = structlog.get_logger("pos_adapter.control")

CONTROL_EXCHANGE = "pos-adapter.control"

Resync = Callable[[str], Awaitable[int | None]]
"""Read a table and push what changed: how many changes, None when it has no stream."""


class ControlServer:
    """The process's control queue, answering for the locations it serves."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._exchange: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._served: dict[str, Resync] = {}

    async def start(self) -> None:
        self._exchange = await self._channel.declare_exchange(
            CONTROL_EXCHANGE, ExchangeType.DIRECT, durable=True
        )
        self._queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await self._queue.consume(self._on_request, no_ack=True)

    async def serve(self, location_id: str, resync: Resync) -> None:
        queue, exchange = self._declared()
        self._served[location_id] = resync
        await queue.bind(exchange, routing_key=location_id)

    async def unserve(self, location_id: str) -> None:
        self._served.pop(location_id, None)
        queue, exchange = self._declared()
        await queue.unbind(exchange, routing_key=location_id)

    def _declared(self) -> tuple[AbstractQueue, AbstractExchange]:
        if self._queue is None or self._exchange is None:
            raise RuntimeError("ControlServer.start() first")
        return self._queue, self._exchange

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        answer = await self._answer(message.routing_key or "", message.body)
        if message.reply_to:
            await self._channel.default_exchange.publish(
                Message(json.dumps(answer).encode(), correlation_id=message.correlation_id,
                        content_type="application/json"),
                routing_key=message.reply_to,
            )

    async def _answer(self, location_id: str, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body)
            command, table = request["command"], str(request["posTableId"])
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "bad request: expected {command, posTableId}"}
        if command != "resync":
            return {"ok": False, "error": f"unknown command {command!r}"}
        resync = self._served.get(location_id)
        if resync is None:
            return {"ok": False, "error": f"location {location_id!r} is not served here"}
        log.info("resync requested", locationId=location_id, posTableId=table)
        try:
            changes = await resync(table)
        except PosError as exc:
            return {"ok": False, "error": f"the POS failed: {exc.message}"}
        if changes is None:
            return {"ok": False, "error": f"table {table} has no active stream"}
        return {"ok": True, "posTableId": table, "changes": changes}
