"""From a delivery's bytes to its handler: parse, serialise per table, de-duplicate.

The dispatcher does not know AMQP: it answers what to do with the delivery (``Ack`` or
``DeadLetter``) and raises when a handler crashed (the consumer then lets the broker
redeliver). Nothing awaits before the table lock is requested, so commands for one
table keep their arrival order.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import structlog

from handlers._command import CommandHandler
from handlers._context import HandlerContext
from handlers._records import DuplicateMessage, WriteSet
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

    async def dispatch(self, body: bytes, *, redelivered: bool) -> Disposition:
        try:
            command = parse_command(body, max_bytes=self.max_bytes)
        except PoisonMessage as poison:
            return DeadLetter(poison.reason)
        handler = self.handlers.get(MessageType(command.message_type))
        if handler is None:
            return DeadLetter(f"no handler for messageType {command.message_type}")
        with structlog.contextvars.bound_contextvars(
            messageId=command.message_id,
            messageType=str(command.message_type),
            posTableId=command.pos_table_id,
        ):
            async with self._serialised(command):
                return await self._handle(handler, command, redelivered)

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
                return DeadLetter(
                    f"redelivered {count} times (max_redeliveries={self.max_redeliveries}): "
                    "the handler keeps failing on it"
                )
        seen = await store.inbox_entry(command.message_id)
        if seen is not None and seen.result is not None:
            log.info("duplicate messageId: publishing the stored result again")
            await store.commit(WriteSet(outbox=[seen.result]))
            return Ack()
        try:
            await handler.handle(command)
        except DuplicateMessage:
            log.info("messageId handled concurrently elsewhere; nothing more to do")
        return Ack()
