"""What every command handler shares: the checks before the POS, and answering.

The delivery being handled (its body and AMQP properties, for the journal) reaches
:func:`answer` through the :data:`delivery` context variable, set by the dispatcher for
the task that handles it. Handlers must not see AMQP (they answer a parsed command, and
the same handlers would serve another transport), and threading the raw delivery
through every handler's signature only to hand it back to ``answer`` would make each of
them carry it; a context variable is per task, so concurrent deliveries never mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from handlers._context import HandlerContext
from handlers._messages import inbox_entry, outgoing
from handlers._records import JournalEntry, OutgoingMessage, WriteSet
from pos_drivers import (
    NotSupported,
    OrderClosed,
    PosError,
    PosUnavailable,
    TableNotFound,
    TableUnavailable,
)
from schemas import MessageType, ParsedCommand, Rejection, RejectionReason, WireModel


class CommandHandler(Protocol):
    async def handle(self, command: ParsedCommand) -> None:
        """Answer ``command`` (under its table's lock, inbox already checked)."""
        ...

    def rejected(self, command: ParsedCommand, rejection: Rejection) -> WireModel:
        """The result payload that rejects ``command`` as a whole."""
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery being handled, as it arrived: journal material only."""

    body: bytes
    properties: Mapping[str, Any] | None
    received_at: datetime


delivery: ContextVar[Delivery | None] = ContextVar("pos_adapter_delivery", default=None)
"""Set by the dispatcher around the handling of one delivery (see the module docstring)."""


def journal_entry(
    ctx: HandlerContext,
    command: ParsedCommand,
    outcome: str,
    *,
    result_message_id: str | None = None,
) -> JournalEntry:
    """The journal entry of ``command`` with the delivery that carried it, if any."""
    received = delivery.get()
    return JournalEntry(
        location_id=ctx.location_id,
        message_id=command.message_id,
        message_type=str(command.message_type),
        pos_table_id=command.pos_table_id,
        correlation_id=command.correlation_id,
        received_at=received.received_at if received is not None else ctx.clock(),
        outcome=outcome,
        body=received.body if received is not None else None,
        properties=received.properties if received is not None else None,
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
    command: ParsedCommand,
    payload: WireModel,
    outcome: str,
    writes: WriteSet | None = None,
) -> tuple[WriteSet, OutgoingMessage]:
    """Add the result, the inbox row and the journal entry to ``writes`` (after any
    change messages)."""
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
        journal_entry(ctx, command, outcome, result_message_id=result.message_id)
    )
    return writes, result


async def reject(
    ctx: HandlerContext,
    handler: CommandHandler,
    command: ParsedCommand,
    why: Rejection,
    writes: WriteSet | None = None,
) -> None:
    """Answer ``command`` with ``why``, committed with ``writes`` (state decided before)."""
    writes, _ = answer(
        ctx, command, handler.rejected(command, why), f"REJECTED:{why.reason}", writes
    )
    await ctx.store.commit(writes)


RESULT_OF = {
    MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED: MessageType.TABLE_ORDER_SNAPSHOT_RESOLUTION_RESULT,
    MessageType.ORDER_SUBMISSION_REQUESTED: MessageType.ORDER_SUBMISSION_RESULT,
}
