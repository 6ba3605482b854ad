"""The command consumer: manual acks, bounded prefetch, dead-letter with a reason.

Each delivery is handed to the dispatcher, which says what to do with it:

- ``Ack``: its result is committed to the outbox (or it was a duplicate); ack.
- ``DeadLetter(reason)``: publish a copy (body and properties unchanged, plus the header
  ``x-pos-adapter-error``) to the dead-letter exchange, wait for the broker's confirm,
  then ack the original. A plain reject cannot add a header.
- an exception: the handler crashed on a delivery that may be redelivered; nack with
  requeue after a short pause. The dispatcher knows how often the command was delivered
  (the quorum queue's ``x-delivery-count`` header, passed on here, or the store's counter
  on a classic queue) and dead-letters it itself, with what failed, on the last delivery
  the queue allows.

Each settled delivery is counted (``Metrics.command_settled``) with its type and outcome:
the outcome the dispatcher returned (its inbox row's, or ``DUPLICATE``), ``DEAD_LETTERED``
(by our copy, or by the queue when the copy could not be published) or ``CRASHED``
(nacked for redelivery): the names of ``handlers.CommandOutcome``. The watchdog asks
:meth:`CommandConsumer.registered` whether the channel still has our consumer, and
:meth:`CommandConsumer.restart` registers it again.

Each delivery is handled in its trace (``adapter.tracing``): with tracing on, a consumer
span of its own, a child of the context its ``traceparent`` header carries; off, that
context as received, for the results it causes to carry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

import aiormq
import structlog
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
)

from adapter import tracing
from adapter.amqp._republish import persistent_copy
from adapter.metrics import LocationMetrics, message_type_label
from handlers import CommandOutcome, DeadLetter, Disposition
from schemas import DELIVERY_COUNT_HEADER, ERROR_HEADER

log = structlog.get_logger("pos_adapter.consumer")

CRASH_PAUSE = 0.5
CANCEL_TIMEOUT = 5.0


class Dispatcher(Protocol):
    async def dispatch(
        self,
        body: bytes,
        *,
        redelivered: bool,
        properties: Mapping[str, Any] | None = None,
        previous_deliveries: int | None = None,
    ) -> Disposition: ...


class CommandConsumer:
    def __init__(
        self,
        queue: AbstractQueue,
        dead_letter: AbstractExchange,
        dead_letter_routing_key: str,
        dispatcher: Dispatcher,
        metrics: LocationMetrics | None = None,
        *,
        counted_by_queue: bool = True,
        location_id: str | None = None,
    ) -> None:
        """``counted_by_queue``: the queue counts deliveries (a quorum queue's
        ``x-delivery-count``); a classic queue does not. ``location_id``: for the
        commands' spans."""
        self._counted_by_queue = counted_by_queue
        self._location_id = location_id
        self._queue = queue
        self._dead_letter = dead_letter
        self._routing_key = dead_letter_routing_key
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._tag: str | None = None
        self._stopped = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self.deliveries = 0
        self.dead_lettered = 0

    @property
    def consuming(self) -> bool:
        return self._tag is not None

    @property
    def queue(self) -> AbstractQueue:
        return self._queue

    @property
    def tag(self) -> str | None:
        return self._tag

    @property
    def stopped(self) -> bool:
        """``stop()`` was called: no consumer is expected any more."""
        return self._stopped

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def registered(self, timeout: float) -> bool | None:
        """Whether the channel has our consumer: None while the connection or the channel
        is being restored (aio-pika's business), or not restored within ``timeout``.

        The broker cannot tell (on a quorum queue with single active consumer the consumer
        count is 1 whoever consumes), so the channel's own consumer table is asked.
        """
        tag = self._tag
        if tag is None:
            return False
        channel = self._queue.channel
        try:
            async with asyncio.timeout(timeout):
                if isinstance(channel, AbstractRobustChannel):
                    await channel.ready()
                underlay = await channel.get_underlay_channel()
        except (TimeoutError, aiormq.exceptions.AMQPError, ConnectionError, RuntimeError):
            return None
        if underlay.is_closed or not isinstance(underlay, aiormq.Channel):
            return None
        return tag in underlay.consumers

    async def restart(self) -> None:
        """Register the consumer again; raises if the broker refuses.

        The old tag is cancelled first (quietly: it is usually gone already), so that the
        robust queue does not bring it back beside the new one on the next reconnect.
        """
        if self._stopped:
            return
        tag, self._tag = self._tag, None
        if tag is not None:
            try:
                async with asyncio.timeout(CANCEL_TIMEOUT):
                    await self._queue.cancel(tag)
            except (TimeoutError, aiormq.exceptions.AMQPError, ConnectionError,
                    RuntimeError) as exc:
                log.info("old consumer could not be cancelled", error=repr(exc))
        await self.start()

    async def stop(self, grace: float) -> None:
        """Stop taking deliveries, then give in-flight ones ``grace`` seconds to finish."""
        self._stopped = True
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
        started = time.perf_counter()
        try:
            message_type, outcome = await self._traced(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)
        if self._metrics is not None:
            label = message_type or message_type_label(message.type)
            self._metrics.command_settled(label, outcome, time.perf_counter() - started)

    async def _traced(self, message: AbstractIncomingMessage) -> tuple[str | None, str]:
        """Handle the delivery in its trace (see the module's docstring)."""
        if tracing.enabled():
            with tracing.command_span(message.headers, {
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "process",
                "messaging.destination.name": self._queue.name,
                "messaging.rabbitmq.destination.routing_key": message.routing_key,
                "messaging.message.id": message.message_id,
                "locationId": self._location_id,
            }) as span:
                message_type, outcome, table = await self._handle(message)
                tracing.command_done(span, message_type, table, outcome,
                                     failed=outcome in (CommandOutcome.CRASHED,
                                                        CommandOutcome.DEAD_LETTERED))
                return message_type, outcome
        received = tracing.received(message.headers)
        if received is None:
            message_type, outcome, _table = await self._handle(message)
            return message_type, outcome
        token = tracing.current.set(received)
        try:
            message_type, outcome, _table = await self._handle(message)
        finally:
            tracing.current.reset(token)
        return message_type, outcome

    async def _handle(
        self, message: AbstractIncomingMessage
    ) -> tuple[str | None, str, str | None]:
        """Dispatch and settle the delivery; its type, outcome and table, for the metrics
        and the trace."""
        try:
            disposition = await self._dispatcher.dispatch(
                message.body, redelivered=bool(message.redelivered),
                properties=dict(message.info()),
                previous_deliveries=self._previous_deliveries(message),
            )
        except asyncio.CancelledError:
            # Not a success: leave the delivery unacked so the broker redelivers it.
            raise
        except Exception:
            log.exception("handler crashed; the command will be redelivered",
                          amqp_message_id=message.message_id)
            await asyncio.sleep(CRASH_PAUSE)
            await _settle(message.nack(requeue=True))
            return None, CommandOutcome.CRASHED, None
        if isinstance(disposition, DeadLetter):
            if not await self._dead_letter_copy(message, disposition.reason):
                # Nothing is lost: the queue's own dead-lettering takes it (with x-death
                # instead of our reason), rather than redelivering it for ever.
                await _settle(message.reject(requeue=False))
                return (disposition.message_type, CommandOutcome.DEAD_LETTERED,
                        disposition.pos_table_id)
            await _settle(_ack(message))
            return (disposition.message_type, CommandOutcome.DEAD_LETTERED,
                    disposition.pos_table_id)
        await _settle(_ack(message))
        return disposition.message_type, disposition.outcome, disposition.pos_table_id

    def _previous_deliveries(self, message: AbstractIncomingMessage) -> int | None:
        if not self._counted_by_queue:
            return None
        count = (message.headers or {}).get(DELIVERY_COUNT_HEADER)
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            return count
        return 1 if message.redelivered else 0

    async def _dead_letter_copy(self, message: AbstractIncomingMessage, reason: str) -> bool:
        copy = persistent_copy(message, {**(message.headers or {}), ERROR_HEADER: reason})
        try:
            await self._dead_letter.publish(copy, routing_key=self._routing_key, mandatory=True)
        except Exception as exc:
            log.error("dead-letter publish failed; the command will be redelivered",
                      reason=reason, error=repr(exc))
            return False
        self.dead_lettered += 1
        if self._metrics is not None:
            self._metrics.dead_lettered.inc()
        log.warning("dead-lettered a command", reason=reason,
                    amqp_message_id=message.message_id, bytes=len(message.body))
        return True


async def _ack(message: AbstractIncomingMessage) -> None:
    """The ack queued for the connection's writer, not waited for until it drains to the
    socket (a wake-up and a task switch per delivery); a broker that never gets it
    redelivers the command, which the inbox answers again."""
    assert message.delivery_tag is not None  # consumed with acks
    await message.channel.basic_ack(message.delivery_tag, wait=False)


async def _settle(operation: Awaitable[None]) -> None:
    """Ack or nack; a lost channel means the broker redelivers, which the inbox absorbs."""
    try:
        await operation
    except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
        log.warning("could not settle a delivery; it will be redelivered", error=repr(exc))
