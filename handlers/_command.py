"""What every command handler shares: the checks before the POS, and answering.

A handler gets an :class:`Incoming`: the parsed command, the delivery that carried it
(its bytes and AMQP properties, for the journal) and the command's deadline. Handlers
never see AMQP: the delivery is plain data, and the same handlers would serve another
transport. ``handle`` returns the outcome its inbox row committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from handlers._context import HandlerContext
from handlers._deadline import Deadline
from handlers._messages import inbox_entry, outgoing
from handlers._outcome import CommandOutcome
from handlers._records import JournalEntry, OutgoingMessage, WriteSet
from pos_drivers import (
    NotSupported,
    OrderClosed,
    PosError,
    PosUnavailable,
    TableNotFound,
    TableUnavailable,
)
from schemas import ParsedCommand, Rejection, RejectionReason, WireModel


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery being handled, as it arrived: journal material only."""

    body: bytes | None
    properties: Mapping[str, Any] | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Incoming:
    """A command to answer: parsed, with its delivery and its deadline."""

    command: ParsedCommand
    delivery: Delivery
    deadline: Deadline


class CommandHandler(Protocol):
    async def handle(self, incoming: Incoming) -> str:
        """Answer the command (under its table's lock, inbox already checked); the
        outcome committed with its inbox row."""
        ...

    def rejected(self, command: ParsedCommand, rejection: Rejection) -> WireModel:
        """The result payload that rejects ``command`` as a whole."""
        ...


def journal_entry(
    ctx: HandlerContext,
    incoming: Incoming,
    outcome: str,
    *,
    result_message_id: str | None = None,
) -> JournalEntry:
    """The journal entry of a command with the delivery that carried it."""
    command, received = incoming.command, incoming.delivery
    return JournalEntry(
        location_id=ctx.location_id,
        message_id=command.message_id,
        message_type=str(command.message_type),
        pos_table_id=command.pos_table_id,
        correlation_id=command.correlation_id,
        received_at=received.received_at,
        outcome=outcome,
        body=received.body,
        properties=received.properties,
        result_message_id=result_message_id,
    )


def rejection(
    reason: RejectionReason, message: str, *, pos_detail: str | None = None
) -> Rejection:
    return Rejection(
        reason=reason,
        message=message,
        retryable=reason is RejectionReason.POS_UNAVAILABLE,
        pos_detail=pos_detail,
    )


_REASON_OF_ERROR: tuple[tuple[type[PosError], RejectionReason], ...] = (
    (TableNotFound, RejectionReason.TABLE_NOT_FOUND),
    (TableUnavailable, RejectionReason.TABLE_UNAVAILABLE),
    (OrderClosed, RejectionReason.ORDER_CLOSED),
    (NotSupported, RejectionReason.NOT_SUPPORTED),
)


def pos_rejection(
    exc: PosError, allowed: frozenset[RejectionReason], *, table_unavailable: RejectionReason
) -> Rejection:
    """The rejection a driver error means, among the reasons the result type allows.

    Anything else the POS did is POS_UNAVAILABLE (retryable), with its own text in posDetail.
    """
    for error_type, reason in _REASON_OF_ERROR:
        if isinstance(exc, error_type):
            if reason is RejectionReason.TABLE_UNAVAILABLE:
                reason = table_unavailable
            if reason in allowed:
                return rejection(reason, exc.message, pos_detail=exc.pos_detail)
    what = "is unavailable" if isinstance(exc, PosUnavailable) else "failed"
    return rejection(
        RejectionReason.POS_UNAVAILABLE, f"the POS {what}: {exc.message}",
        pos_detail=exc.pos_detail,
    )


def precheck(ctx: HandlerContext, command: ParsedCommand) -> Rejection | None:
    """The rejections that need no POS: invalid, foreign location, expired."""
    envelope = command.envelope
    if envelope is None:
        return rejection(RejectionReason.INVALID_REQUEST, f"invalid request: {command.error}")
    if envelope.location_id != ctx.location_id:
        return rejection(
            RejectionReason.LOCATION_MISMATCH,
            f"location {envelope.location_id!r} is not served by this adapter "
            f"(it serves {ctx.location_id!r})",
        )
    if envelope.expires_at is not None and envelope.expires_at <= ctx.clock():
        return rejection(
            RejectionReason.EXPIRED,
            f"the command expired at {envelope.expires_at.isoformat()}; the POS was not called",
        )
    if command.payload is None:
        return rejection(RejectionReason.INVALID_REQUEST, f"invalid request: {command.error}")
    return None


def answer(
    ctx: HandlerContext,
    incoming: Incoming,
    payload: WireModel,
    outcome: str,
    writes: WriteSet | None = None,
) -> tuple[WriteSet, OutgoingMessage]:
    """Add the result, the inbox row and the journal entry to ``writes`` (after any
    change messages)."""
    command = incoming.command
    writes = writes or WriteSet()
    now = ctx.clock()
    result = outgoing(
        payload,
        location_id=ctx.location_id,
        correlation_id=command.message_id,
        pos_table_id=command.pos_table_id,
        occurred_at=now,
    )
    writes.outbox.append(result)
    writes.inbox = inbox_entry(
        message_id=command.message_id,
        message_type=str(command.message_type),
        location_id=ctx.location_id,
        pos_table_id=command.pos_table_id,
        received_at=now,
        outcome=outcome,
        result=result,
    )
    writes.journal.append(
        journal_entry(ctx, incoming, outcome, result_message_id=result.message_id)
    )
    return writes, result


async def reject(
    ctx: HandlerContext,
    handler: CommandHandler,
    incoming: Incoming,
    why: Rejection,
    writes: WriteSet | None = None,
) -> str:
    """Answer with ``why``, committed with ``writes`` (state decided before); the outcome."""
    outcome = CommandOutcome.REJECTED.with_detail(why.reason)
    writes, _ = answer(ctx, incoming, handler.rejected(incoming.command, why), outcome, writes)
    await ctx.store.commit(writes)
    return outcome
