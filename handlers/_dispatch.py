"""From a delivery's bytes to its handler: parse, serialise per table, de-duplicate.

The dispatcher does not know AMQP: it answers what to do with the delivery (``Ack`` or
``DeadLetter``) and raises when a handler crashed (the consumer then lets the broker
redeliver). Nothing awaits before the table lock is requested, so commands for one
table keep their arrival order.

Every delivery leaves a journal entry: the handler's answer writes it with the inbox row
(``answer``); the dispatcher writes the entries of what never reaches a handler's answer:
a duplicate (with the stored result it publishes again, in one commit), poison and
commands dead-lettered (committed before ``DeadLetter`` is returned), a handler that
crashed. For ``answer`` to journal the delivery as it arrived, the dispatcher sets the
``delivery`` context variable around the handling (see ``handlers._command``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from handlers._command import CommandHandler, Delivery, delivery, journal_entry
from handlers._context import HandlerContext
from handlers._records import DuplicateMessage, JournalEntry, WriteSet
from schemas import MessageType, ParsedCommand, PoisonMessage, parse_command

log = structlog.get_logger("pos_adapter.dispatch")


@dataclass(frozen=True, slots=True)
class Ack:
    """Settled: the result is committed (or was already)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Poison: dead-letter a copy with ``reason`` in ``x-pos-adapter-error``."""

    reason: str


Disposition = Ack | DeadLetter


class Dispatcher:
    def __init__(
        self,
        ctx: HandlerContext,
        handlers: Mapping[MessageType, CommandHandler],
        *,
        max_bytes: int = 256 * 1024,
        count_redeliveries: bool = False,
        max_redeliveries: int = 5,
    ) -> None:
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
    ) -> Disposition:
        """What to do with one delivery; ``properties`` are its AMQP properties (kept in
        the journal only)."""
        token = delivery.set(Delivery(body, properties, self.ctx.clock()))
        try:
            return await self._dispatch(body, redelivered)
        finally:
            delivery.reset(token)

    async def _dispatch(self, body: bytes, redelivered: bool) -> Disposition:
        try:
            command = parse_command(body, max_bytes=self.max_bytes)
        except PoisonMessage as poison:
            await self._journal(self._poison_entry(body, poison.reason))
            return DeadLetter(poison.reason)
        handler = self.handlers.get(MessageType(command.message_type))
        if handler is None:
            return await self._dead_letter(
                command, f"no handler for messageType {command.message_type}"
            )
        with structlog.contextvars.bound_contextvars(
            messageId=command.message_id,
            messageType=str(command.message_type),
            posTableId=command.pos_table_id,
        ):
            async with self._serialised(command):
                try:
                    return await self._handle(handler, command, redelivered)
                except Exception as exc:
                    await self._journal(
                        journal_entry(self.ctx, command, f"CRASHED:{type(exc).__name__}")
                    )
                    raise

    @contextlib.asynccontextmanager
    async def _serialised(self, command: ParsedCommand) -> AsyncIterator[None]:
        if command.pos_table_id is None:
            yield
            return
        async with self.ctx.locks.hold(self.ctx.location_id, command.pos_table_id):
            yield

    async def _handle(
        self, handler: CommandHandler, command: ParsedCommand, redelivered: bool
    ) -> Disposition:
        store = self.ctx.store
        if redelivered and self.count_redeliveries:
            count = await store.count_redelivery(command.message_id)
            if count > self.max_redeliveries:
                return await self._dead_letter(
                    command,
                    f"redelivered {count} times (max_redeliveries={self.max_redeliveries}): "
                    "the handler keeps failing on it",
                )
        seen = await store.inbox_entry(command.message_id)
        if seen is not None and seen.result is not None:
            log.info("duplicate messageId: publishing the stored result again")
            entry = journal_entry(
                self.ctx, command, DUPLICATE, result_message_id=seen.result.message_id
            )
            await store.commit(WriteSet(outbox=[seen.result], journal=[entry]))
            return Ack()
        try:
            await handler.handle(command)
        except DuplicateMessage:
            log.info("messageId handled concurrently elsewhere; nothing more to do")
            await self._journal(journal_entry(self.ctx, command, DUPLICATE))
        return Ack()

    async def _dead_letter(self, command: ParsedCommand, reason: str) -> DeadLetter:
        await self._journal(journal_entry(self.ctx, command, f"{DEAD_LETTERED}:{reason}"))
        return DeadLetter(reason)

    async def _journal(self, entry: JournalEntry) -> None:
        """Commit a journal entry on its own. A failure is logged, not raised: the entry is
        a record for people, and the delivery's fate (dead-letter, redelivery) matters more
        than the record of it."""
        try:
            await self.ctx.store.commit(WriteSet(journal=[entry]))
        except Exception as exc:
            log.warning("could not journal a delivery", outcome=entry.outcome, error=repr(exc))

    def _poison_entry(self, body: bytes, reason: str) -> JournalEntry:
        """What can be told of a poison delivery: the envelope's fields where the body is
        a JSON object of acceptable size, else the AMQP properties'."""
        received = delivery.get()
        assert received is not None
        raw = _json_object(body) if len(body) <= self.max_bytes else {}
        properties = received.properties or {}
        payload = raw.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        message_type = raw.get("messageType") or properties.get("type")
        return JournalEntry(
            location_id=self.ctx.location_id,
            message_id=_identifier(raw.get("messageId"))
            or _identifier(properties.get("message_id")),
            message_type=str(message_type)[:64] if message_type is not None else None,
            pos_table_id=_identifier(payload.get("posTableId")),
            correlation_id=_identifier(raw.get("correlationId"))
            or _identifier(properties.get("correlation_id")),
            received_at=received.received_at,
            outcome=f"{DEAD_LETTERED}:{reason}",
            body=body if len(body) <= self.max_bytes else None,
            properties=received.properties,
        )


DUPLICATE = "DUPLICATE"
DEAD_LETTERED = "DEAD_LETTERED"


def _identifier(value: object) -> str | None:
    """``value`` if it is a usable identifier (a string of 1-128 characters)."""
    return value if isinstance(value, str) and 1 <= len(value) <= 128 else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return raw if isinstance(raw, dict) else {}
