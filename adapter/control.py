"""Operator requests to the running worker, over the broker: ``pos-adapter resync``.

Reading a table and pushing what changed must happen inside the worker that serves the
location: under its table lock, on its streams. The CLI therefore asks the worker over
a small request queue, ``pos-adapter.<location>.control`` (exclusive to the lease holder,
gone with it), with RabbitMQ's direct reply-to for the answer. No worker serving the
location means the request is unroutable, and the CLI says so at once.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from aio_pika import Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from handlers.watcher import Watcher
from pos_drivers import PosError

log = structlog.get_logger("pos_adapter.control")


def control_queue(location_id: str) -> str:
    return f"pos-adapter.{location_id}.control"


class ControlServer:
    def __init__(self, channel: AbstractChannel, location_id: str, watcher: Watcher) -> None:
        self._channel = channel
        self._location_id = location_id
        self._watcher = watcher

    async def start(self) -> None:
        queue = await self._channel.declare_queue(
            control_queue(self._location_id), exclusive=True, auto_delete=True
        )
        await queue.consume(self._on_request, no_ack=True)

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        answer = await self._answer(message.body)
        if message.reply_to:
            await self._channel.default_exchange.publish(
                Message(json.dumps(answer).encode(), correlation_id=message.correlation_id,
                        content_type="application/json"),
                routing_key=message.reply_to,
            )

    async def _answer(self, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body)
            command, table = request["command"], str(request["posTableId"])
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "bad request: expected {command, posTableId}"}
        if command != "resync":
            return {"ok": False, "error": f"unknown command {command!r}"}
        log.info("resync requested", posTableId=table)
        try:
            changes = await self._watcher.sync_table(table)
        except PosError as exc:
            return {"ok": False, "error": f"the POS failed: {exc.message}"}
        if changes is None:
            return {"ok": False, "error": f"table {table} has no active stream"}
        return {"ok": True, "posTableId": table, "changes": changes}
