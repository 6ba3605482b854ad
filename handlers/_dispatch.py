"""From a delivery's bytes to its handler: parse, serialise per table, de-duplicate.

The dispatcher does not know AMQP: it answers what to do with the delivery (``Ack`` with
the outcome, or ``DeadLetter`` with the reason) and raises only when a handler crashed on
a delivery that may still be redelivered (the consumer then lets the broker redeliver it).
On the last delivery the queue allows, a crash is dead-lettered here instead, with what
failed, so that the dead letter says why. Nothing awaits before the table lock is
requested, so commands for one table keep their arrival order.

The command's deadline starts here, before the wait for its table's lock: a command
still waiting for the lock when its deadline passes is answered ``POS_UNAVAILABLE``
(retryable) without having touched anything.

Every delivery leaves a journal entry: the handler's answer writes it with the inbox row
(``answer``); the dispatcher writes the entries of what never reaches a handler's answer:
a duplicate (with the stored result it publishes again, in one commit), poison and
commands dead-lettered (committed before ``DeadLetter`` is returned), a handler that
crashed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from handlers._command import (
    CommandHandler,
    Delivery,
    Incoming,
    journal_entry,
    reject,
    rejection,
)
from handlers._context import HandlerContext
from handlers._deadline import Deadline
from handlers._locks import LockTimeout
from handlers._log_context import command_context
from handlers._outcome import CommandOutcome
from handlers._records import DuplicateMessage, InboxRecord, JournalEntry, WriteSet
from schemas import (
    PoisonMessage,
    RejectionReason,
    identifier_or_none,
    json_object,
    parse_command,
    storable,
)

log = structlog.get_logger("pos_adapter.dispatch")

@dataclass(frozen=True, slots=True)
class Ack:
    """Settled: the result is committed (or was already). ``outcome`` is what the inbox
    row says (``DUPLICATE`` when a stored result went out again); the type and the table
    are for the metrics and the trace."""

    outcome: str = CommandOutcome.DUPLICATE
    message_type: str | None = None
    pos_table_id: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Dead-letter a copy with ``reason`` in the header ``schemas.ERROR_HEADER``."""

    reason: str
    message_type: str | None = None
    pos_table_id: str | None = field(default=None, compare=False)


Disposition = Ack | DeadLetter


class Dispatcher:
    def __init__(
        self,
        ctx: HandlerContext,
        handlers: Mapping[str, CommandHandler],
        *,
        max_bytes: int = 256 * 1024,
        count_redeliveries: bool = False,
        max_redeliveries: int = 5,
    ) -> None:
        """``count_redeliveries``: count them in the store (a classic queue has no
        delivery count of its own)."""
        self.ctx = ctx
        self.handlers = dict(handlers)
        self.max_bytes = max_bytes
        self.count_redeliveries = count_redeliveries
        self.max_redeliveries = max_redeliveries

    async def dispatch(
        self,
        body: bytes,
        *,
        redelivered: bool,
        properties: Mapping[str, Any] | None = None,
        previous_deliveries: int | None = None,
    ) -> Disposition:
        """What to do with one delivery. ``properties`` are its AMQP properties (kept in
        the journal only); ``previous_deliveries`` is how often the queue delivered it
        before (a quorum queue's ``x-delivery-count``), None when the queue does not say."""
        delivery = Delivery(body, properties, self.ctx.clock())
        try:
            command = parse_command(body, max_bytes=self.max_bytes)
        except PoisonMessage as poison:
            return await self._poison(delivery, poison.reason)
        except Exception as exc:
            # A body the parser cannot cope with cannot be answered: never a crash loop.
            log.exception("parsing a delivery failed")
            return await self._poison(delivery, f"the body could not be parsed ({exc!r})")
        incoming = Incoming(command, delivery, Deadline.after(self.ctx.pos_deadline))
        handler = self.handlers.get(command.message_type)
        if handler is None:
            return await self._dead_letter(
                incoming, f"no handler for messageType {command.message_type}"
            )
        with command_context(
            locationId=self.ctx.location_id,
            messageId=command.message_id,
            messageType=str(command.message_type),
            posTableId=command.pos_table_id,
        ):
            previous = await self._previous_deliveries(command.message_id, redelivered,
                                                       previous_deliveries)
            if previous > self.max_redeliveries:
                return await self._dead_letter(
                    incoming,
                    f"delivered {previous + 1} times (max_redeliveries="
                    f"{self.max_redeliveries}): the worker never finished handling it",
                )
            try:
                return await self._serialised(handler, incoming)
            except Exception as exc:
                await self._journal(
                    journal_entry(self.ctx, incoming,
                                  CommandOutcome.CRASHED.with_detail(type(exc).__name__))
                )
                if previous < self.max_redeliveries:
                    raise
                log.exception("the handler crashed on the last allowed delivery")
                return await self._dead_letter(
                    incoming,
                    f"the handler failed on each of {previous + 1} deliveries; the last "
                    f"time with {storable(repr(exc))[:500]}",
                )

    async def _previous_deliveries(
        self, message_id: str, redelivered: bool, counted_by_queue: int | None
    ) -> int:
        if counted_by_queue is not None:
            return counted_by_queue
        if redelivered and self.count_redeliveries:
            return await self.ctx.store.count_redelivery(message_id)
        return 0

    async def _serialised(self, handler: CommandHandler, incoming: Incoming) -> Disposition:
        try:
            async with self._table_lock(incoming):
                return await self._handle(handler, incoming)
        except LockTimeout:
            log.warning("the table stayed busy for the whole deadline")
            return await self._answer_busy(handler, incoming)

    @contextlib.asynccontextmanager
    async def _table_lock(self, incoming: Incoming) -> AsyncIterator[None]:
        table = incoming.command.pos_table_id
        if table is None:
            yield
            return
        async with self.ctx.locks.hold(self.ctx.location_id, table, incoming.deadline):
            yield

    async def _handle(self, handler: CommandHandler, incoming: Incoming) -> Disposition:
        command = incoming.command
        seen = await self.ctx.store.inbox_entry(command.message_id)
        if seen is not None and seen.result is not None:
            return await self._publish_again(incoming, seen)
        try:
            outcome = await handler.handle(incoming)
        except DuplicateMessage:
            return await self._answered_meanwhile(incoming)
        return Ack(outcome, str(command.message_type), command.pos_table_id)

    async def _answer_busy(self, handler: CommandHandler, incoming: Incoming) -> Disposition:
        """POS_UNAVAILABLE for a command whose table's lock never came free in time."""
        seen = await self.ctx.store.inbox_entry(incoming.command.message_id)
        if seen is not None and seen.result is not None:
            return await self._publish_again(incoming, seen)
        why = rejection(
            RejectionReason.POS_UNAVAILABLE,
            f"the table was busy with the POS for the whole deadline of "
            f"{incoming.deadline.seconds:g} s",
        )
        try:
            outcome = await reject(self.ctx, handler, incoming, why)
        except DuplicateMessage:
            return await self._answered_meanwhile(incoming)
        return Ack(outcome, str(incoming.command.message_type), incoming.command.pos_table_id)

    async def _answered_meanwhile(self, incoming: Incoming) -> Disposition:
        """The commit found the messageId answered already: its stored result goes out."""
        seen = await self.ctx.store.inbox_entry(incoming.command.message_id)
        if seen is None or seen.result is None:  # pragma: no cover - the commit saw it
            raise RuntimeError("the inbox refused a messageId it does not hold")
        return await self._publish_again(incoming, seen)

    async def _publish_again(self, incoming: Incoming, seen: InboxRecord) -> Disposition:
        assert seen.result is not None
        log.info("duplicate messageId: publishing the stored result again")
        entry = journal_entry(self.ctx, incoming, CommandOutcome.DUPLICATE,
                              result_message_id=seen.result.message_id)
        await self.ctx.store.commit(WriteSet(outbox=[seen.result], journal=[entry]))
        return Ack(CommandOutcome.DUPLICATE, str(incoming.command.message_type),
                   incoming.command.pos_table_id)

    async def _dead_letter(self, incoming: Incoming, reason: str) -> DeadLetter:
        outcome = CommandOutcome.DEAD_LETTERED.with_detail(reason)
        await self._journal(journal_entry(self.ctx, incoming, outcome))
        return DeadLetter(reason, str(incoming.command.message_type),
                          incoming.command.pos_table_id)

    async def _poison(self, delivery: Delivery, reason: str) -> DeadLetter:
        await self._journal(self._poison_entry(delivery, reason))
        return DeadLetter(reason)

    async def _journal(self, entry: JournalEntry) -> None:
        """Commit a journal entry on its own. A failure is logged, not raised: the entry is
        a record for people, and the delivery's fate (dead-letter, redelivery) matters more
        than the record of it."""
        try:
            await self.ctx.store.commit(WriteSet(journal=[entry]))
        except Exception as exc:
            log.warning("could not journal a delivery", outcome=entry.outcome, error=repr(exc))

    def _poison_entry(self, delivery: Delivery, reason: str) -> JournalEntry:
        """What can be told of a poison delivery: the envelope's fields where the body is
        a JSON object of acceptable size, else the AMQP properties'."""
        body = delivery.body or b""
        raw = (json_object(body) or {}) if len(body) <= self.max_bytes else {}
        properties = delivery.properties or {}
        payload = raw.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        message_type = raw.get("messageType") or properties.get("type")
        return JournalEntry(
            location_id=self.ctx.location_id,
            message_id=identifier_or_none(raw.get("messageId"))
            or identifier_or_none(properties.get("message_id")),
            message_type=storable(str(message_type))[:64] if message_type is not None else None,
            pos_table_id=identifier_or_none(payload.get("posTableId")),
            correlation_id=identifier_or_none(raw.get("correlationId"))
            or identifier_or_none(properties.get("correlation_id")),
            received_at=delivery.received_at,
            outcome=CommandOutcome.DEAD_LETTERED.with_detail(reason),
            body=body if len(body) <= self.max_bytes else None,
            properties=delivery.properties,
        )
