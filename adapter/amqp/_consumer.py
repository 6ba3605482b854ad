"""The command consumer: manual acks, bounded prefetch, dead-letter with a reason.

Each delivery is handed to the dispatcher, which says what to do with it:

- ``Ack``: its result is committed to the outbox (or it was a duplicate); ack.
- ``DeadLetter(reason)``: publish a copy (body and properties unchanged, plus the header
  ``x-pos-adapter-error``) to the dead-letter exchange, wait for the broker's confirm,
  then ack the original. A plain reject cannot add a header.
- an exception: the handler crashed; nack with requeue after a short pause. The quorum
  queue's ``x-delivery-limit`` (or the store's counter on a classic queue) dead-letters a
  command that keeps crashing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

import aiormq
import structlog
from aio_pika import Message
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractQueue

from handlers import DeadLetter, Disposition

log = structlog.get_logger("pos_adapter.consumer")

ERROR_HEADER = "x-pos-adapter-error"
CRASH_PAUSE = 0.5


class Dispatcher(Protocol):
    async def dispatch(self, body: bytes, *, redelivered: bool) -> Disposition: ...


class CommandConsumer:
    def __init__(
        self,
        queue: AbstractQueue,
        dead_letter: AbstractExchange,
        dead_letter_routing_key: str,
        dispatcher: Dispatcher,
    ) -> None:
        self._queue = queue
        self._dead_letter = dead_letter
        self._routing_key = dead_letter_routing_key
        self._dispatcher = dispatcher
        self._tag: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.deliveries = 0
        self.dead_lettered = 0

    @property
    def consuming(self) -> bool:
        return self._tag is not None

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def stop(self, grace: float) -> None:
        """Stop taking deliveries, then give in-flight ones ``grace`` seconds to finish."""
        if self._tag is not None:
            tag, self._tag = self._tag, None
            try:
                await self._queue.cancel(tag)
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                log.warning("could not cancel the consumer", error=repr(exc))
        if not self._in_flight:
            return
        _done, pending = await asyncio.wait(set(self._in_flight), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled unfinished commands; the broker will redeliver them",
                        count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        self.deliveries += 1
        try:
            await self._handle(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            disposition = await self._dispatcher.dispatch(
                message.body, redelivered=bool(message.redelivered)
            )
        except asyncio.CancelledError:
            # Not a success: leave the delivery unacked so the broker redelivers it.
            raise
        except Exception:
            log.exception("handler crashed; the command will be redelivered",
                          amqp_message_id=message.message_id)
            await asyncio.sleep(CRASH_PAUSE)
            await _settle(message.nack(requeue=True))
            return
        if isinstance(disposition, DeadLetter) and not await self._dead_letter_copy(
            message, disposition.reason
        ):
            await _settle(message.nack(requeue=True))
            return
        await _settle(message.ack())

    async def _dead_letter_copy(self, message: AbstractIncomingMessage, reason: str) -> bool:
        headers = dict(message.headers or {})
        headers[ERROR_HEADER] = reason
        copy = Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=2,
            priority=message.priority,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            expiration=None,
            message_id=message.message_id,
            timestamp=message.timestamp,
            type=message.type,
            user_id=None,
            app_id=message.app_id,
        )
        try:
            await self._dead_letter.publish(copy, routing_key=self._routing_key, mandatory=True)
        except Exception as exc:
            log.error("dead-letter publish failed; the command will be redelivered",
                      reason=reason, error=repr(exc))
            return False
        self.dead_lettered += 1
        log.warning("dead-lettered a command", reason=reason,
                    amqp_message_id=message.message_id, bytes=len(message.body))
        return True


async def _settle(operation: Awaitable[None]) -> None:
    """Ack or nack; a lost channel means the broker redelivers, which the inbox absorbs."""
    try:
        await operation
    except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
        log.warning("could not settle a delivery; it will be redelivered", error=repr(exc))
