"""OrderSubmissionRequested -> OrderSubmissionResult (contract §4.3/4.4).

A submission goes onto the POS at most once, whatever the redeliveries, retries and
crashes:

1. A submissionId already DONE gets its stored outcome in a new result; no POS call.
2. Under the table's lock the table is read; changes not yet pushed go out first, and a
   check that closed since the stream's baseline ends the stream (ORDER_CLOSED). A first
   attempt on a table whose stream knows its open check skips the read: it adds to that
   check (4), and the POS refusing it as not open (OrderClosed) sends it back here.
3. A submission that is not DONE (the worker died during the POS call, or the POS was
   unavailable) first asks the POS which lines it already created (by external reference
   ``"<submissionId>:<lineId>"``); if there are any, that is the outcome.
4. Otherwise the items are checked against the POS's products, the policy decides, the
   state SUBMITTING (with the plan) is committed, and only then the POS is called.
5. The outcome, the result and the inbox row are committed together (DONE).

Lines a submission created join the stream without a change message: the watcher and
the snapshot handler recognise them by their external reference.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TypeVar, cast

import structlog

from handlers._command import Incoming, answer, pos_rejection, precheck, rejection
from handlers._context import HandlerContext
from handlers._deadline import Deadline
from handlers._locks import LockTimeout
from handlers._outcome import CommandOutcome
from handlers._pos import call_pos
from handlers._records import (
    CreatedLine,
    StreamRecord,
    StreamStatus,
    SubmissionRecord,
    SubmissionState,
    WriteSet,
)
from handlers._snapshots import external_ref, snapshot_of
from handlers._streams import advance_stream, join_own_lines
from pos_drivers import (
    Capability,
    DuplicateReference,
    ItemsRejected,
    NewLine,
    OrderClosed,
    PosCheck,
    PosError,
    PosLine,
    PosProduct,
)
from schemas import (
    SUBMISSION_REJECTION_REASONS,
    AcceptedItem,
    EchoedOrderContext,
    ItemRejectionReason,
    OrderContextType,
    OrderSubmissionRequested,
    OrderSubmissionResult,
    ParsedCommand,
    RejectedItem,
    Rejection,
    RejectionReason,
    SubmissionItem,
    SubmissionOutcome,
)

log = structlog.get_logger("pos_adapter.submission")

T = TypeVar("T")
MAX_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class _CaughtUp:
    """The stream as committed, its baseline the POS's check at ``version``."""

    version: str | None
    stream: StreamRecord


class _Refused(Exception):
    """The submission is rejected as a whole (and the answer may be final or not)."""

    def __init__(self, why: Rejection) -> None:
        super().__init__(why.message)
        self.why = why


class _CheckMoved(Exception):
    """The check the stream knew is not the table's open check any more: read the table.
    ``record``: the submission as committed before the refused add."""

    def __init__(self) -> None:
        super().__init__("the expected check is not the table's open check")
        self.record: SubmissionRecord | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What was decided before the POS call: kept so that a retry answers the same."""

    rejected: tuple[RejectedItem, ...]
    expected_order_id: str | None

    def dump(self) -> bytes:
        return json.dumps({
            "rejected": [item.model_dump(mode="json") for item in self.rejected],
            "expectedOrderId": self.expected_order_id,
        }).encode()

    @classmethod
    def load(cls, raw: bytes | None) -> Plan:
        if not raw:
            return cls((), None)
        data = json.loads(raw)
        rejected = tuple(RejectedItem.model_validate(item) for item in data["rejected"])
        return cls(rejected, data.get("expectedOrderId"))


class ProductCache:
    """The POS's products, re-read at most every ``ttl`` seconds (0: every time).

    Only the check before the POS call uses it: the POS checks again when the lines are
    added, and what it refuses then is answered with its own reasons.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._products: Mapping[str, PosProduct] = {}
        self._read_at = -math.inf

    async def get(
        self, read: Callable[[], Awaitable[Mapping[str, PosProduct]]]
    ) -> Mapping[str, PosProduct]:
        if time.monotonic() - self._read_at >= self.ttl:
            self._products = await read()
            self._read_at = time.monotonic()
        return self._products


class SubmissionHandler:
    def __init__(
        self, ctx: HandlerContext, *, atomic: bool = False, product_cache_ttl: float = 0.0
    ) -> None:
        self.ctx = ctx
        self.atomic = atomic
        self.products = ProductCache(product_cache_ttl)

    def rejected(self, command: ParsedCommand, why: Rejection) -> OrderSubmissionResult:
        request = command.payload
        items: tuple[RejectedItem, ...] = ()
        if isinstance(request, OrderSubmissionRequested):
            items = tuple(_batch_rejected(item) for item in request.items)
        return OrderSubmissionResult(
            submission_id=command.submission_id,
            order_context=EchoedOrderContext.from_raw(command.order_context),
            outcome=SubmissionOutcome.REJECTED,
            rejected_items=items,
            rejection=why,
        )

    async def handle(self, incoming: Incoming) -> str:
        ctx = self.ctx
        command = incoming.command
        why = precheck(ctx, command) or self._unsupported(command)
        if why is not None:
            return await self._finish(incoming, self.rejected(command, why), WriteSet(), None)
        request = cast(OrderSubmissionRequested, command.payload)
        try:
            async with ctx.locks.hold_submission(
                ctx.location_id, request.submission_id, incoming.deadline
            ):
                return await self._handle(incoming, request)
        except LockTimeout:
            why = rejection(
                RejectionReason.POS_UNAVAILABLE,
                "another message of this submission kept it busy for the whole deadline of "
                f"{incoming.deadline.seconds:g} s",
            )
            return await self._finish(incoming, self.rejected(command, why), WriteSet(), None)

    async def _handle(self, incoming: Incoming, request: OrderSubmissionRequested) -> str:
        """Under the submission's own lock: one message of a submission at a time."""
        ctx = self.ctx
        command = incoming.command
        digest = request_digest(request)
        existing = await ctx.store.submission(ctx.location_id, request.submission_id)
        if existing is not None and not _same_request(existing, request, digest):
            return await self._finish(
                incoming, self.rejected(command, _reused(existing)), WriteSet(), None
            )
        if existing is not None and existing.state is SubmissionState.DONE:
            log.info("submission already done: answering its stored outcome",
                     submissionId=request.submission_id)
            stored = OrderSubmissionResult.model_validate_json(existing.result_payload or b"")
            outcome = CommandOutcome.REPEATED.with_detail(stored.outcome)
            writes, _ = answer(ctx, incoming, stored, outcome)
            await ctx.store.commit(writes)
            return outcome
        writes = WriteSet()
        record = existing or self._record(
            command, request, SubmissionState.RECEIVED, Plan((), None), digest=digest
        )
        kept: SubmissionRecord | None
        caught_up: _CaughtUp | None = None
        try:
            result, kept, caught_up = await self._submit(incoming, request, record, writes)
        except _Refused as refused:
            result = self.rejected(command, refused.why)
            # Nothing reached the POS and the answer is not final: nothing to remember.
            kept = None if existing is None and refused.why.retryable else record
        outcome = await self._finish(incoming, result, writes, kept)
        # Told only once committed: a failed commit leaves the stream as it was.
        table = cast(str, request.order_context.pos_table_id)
        if any(s.status is not StreamStatus.ACTIVE for s in writes.streams):
            ctx.listener.stream_ended(table)
        elif caught_up is not None:
            ctx.listener.baseline_at(table, caught_up.version, caught_up.stream)
        return outcome

    def _unsupported(self, command: ParsedCommand) -> Rejection | None:
        request = command.payload
        if not isinstance(request, OrderSubmissionRequested):
            return None
        if not self.ctx.driver.supports(Capability.ADD_LINES):
            return rejection(
                RejectionReason.NOT_SUPPORTED,
                f"the POS behind this adapter ({self.ctx.driver.name} driver) offers no way "
                "to add items to a check: order at the table with the waiter",
            )
        if request.order_context.type != OrderContextType.TABLE.value:
            return rejection(
                RejectionReason.UNSUPPORTED_ORDER_CONTEXT,
                f"order context {request.order_context.type!r} is not supported by the "
                f"{self.ctx.driver.name} driver; only TABLE is",
            )
        if request.payment is not None and not self.ctx.driver.supports(
            Capability.PREPAID_PAYMENTS
        ):
            return rejection(
                RejectionReason.UNSUPPORTED_ORDER_CONTEXT,
                f"the {self.ctx.driver.name} driver cannot record payments: prepaid "
                "submissions are not supported",
            )
        return None

    async def _finish(
        self,
        incoming: Incoming,
        result: OrderSubmissionResult,
        writes: WriteSet,
        record: SubmissionRecord | None,
    ) -> str:
        """Commit the result; the submission becomes DONE unless the POS was unavailable.
        The outcome committed."""
        ctx = self.ctx
        retryable = result.rejection is not None and result.rejection.retryable
        outcome = result.rejection.reason.value if result.rejection else result.outcome.value
        if record is not None:
            now = ctx.clock()
            if retryable:
                record = replace(record, outcome=outcome, updated_at=now)
            else:
                record = replace(
                    record,
                    state=SubmissionState.DONE,
                    outcome=outcome,
                    result_payload=result.model_dump_json().encode(),
                    created_lines=tuple(
                        CreatedLine(item.line_id, item.pos_line_id)
                        for item in result.accepted_items
                    ),
                    pos_order_id=result.pos_order_id,
                    updated_at=now,
                )
            writes.submissions.append(record)
        answer(ctx, incoming, result, outcome, writes)
        await ctx.store.commit(writes)
        return outcome

    # -- the submission proper -----------------------------------------------------------

    async def _submit(
        self,
        incoming: Incoming,
        request: OrderSubmissionRequested,
        record: SubmissionRecord,
        writes: WriteSet,
    ) -> tuple[OrderSubmissionResult, SubmissionRecord, _CaughtUp | None]:
        """The result, the submission as it stands, and the stream brought up to the
        check the POS answered the add with (when it did).

        A first attempt on a table whose stream knows its open check goes straight to the
        add, expecting that check: the POS refuses it if it is no longer the table's
        (``OrderClosed``), and only then is the table read. The read would only have
        pushed the waiter's changes first, which the add's answer (or the watcher) brings
        all the same, in the same commit as the result.
        """
        ctx = self.ctx
        deadline = incoming.deadline
        table = cast(str, request.order_context.pos_table_id)
        stream = await ctx.store.active_stream(ctx.location_id, table)
        expected = stream.baseline.pos_order_id if stream is not None else None
        if record.state is SubmissionState.RECEIVED and expected is not None:
            try:
                return await self._place(incoming, request, record, writes, stream, expected,
                                         on_stream=True)
            except _CheckMoved as moved:
                record = moved.record or record
        check = await self._pos(lambda: ctx.driver.read_check(table), deadline)
        stream, closed = await self._advance_stream(table, check, writes)
        if record.state is SubmissionState.SUBMITTING:
            if not ctx.driver.supports(Capability.EXTERNAL_REFS):
                raise _Refused(_not_reconcilable(ctx.driver.name))
            found = await self._earlier_lines(table, request.submission_id, deadline)
            if found:
                log.info("an earlier attempt reached the POS: answering what it created",
                         submissionId=request.submission_id, lines=len(found))
                plan = Plan.load(record.plan)
                order_id = check.order_id or plan.expected_order_id
                self._join(stream, request, found, order_id, writes)
                return self._outcome(request, found, plan.rejected, order_id), record, None
        if closed:
            raise _Refused(rejection(
                RejectionReason.ORDER_CLOSED,
                "the table's check was closed since the session started",
            ))
        return await self._place(incoming, request, record, writes, stream, check.order_id)

    async def _place(
        self,
        incoming: Incoming,
        request: OrderSubmissionRequested,
        record: SubmissionRecord,
        writes: WriteSet,
        stream: StreamRecord | None,
        order_id: str | None,
        *,
        on_stream: bool = False,
    ) -> tuple[OrderSubmissionResult, SubmissionRecord, _CaughtUp | None]:
        """Check the items, commit SUBMITTING, add them to the check ``order_id``.
        ``on_stream``: ``order_id`` is the stream's, not read now (``_CheckMoved`` when
        the POS says it is not the table's open check)."""
        ctx = self.ctx
        command, deadline = incoming.command, incoming.deadline
        table = cast(str, request.order_context.pos_table_id)
        await self._refuse_ended_session(table, cast(str, request.order_context.table_session_id))
        products = await self.products.get(lambda: self._pos(ctx.driver.list_products, deadline))
        to_send, refused = validate_items(request.items, products)
        if refused and (self.atomic or not to_send):
            refused += [_batch_rejected(item) for item in to_send]
            result = _result(request, SubmissionOutcome.REJECTED, None, (), refused)
            return result, record, None
        record = self._record(
            command, request, SubmissionState.SUBMITTING, Plan(tuple(refused), order_id),
            digest=record.request_digest, created_at=record.created_at,
        )
        await ctx.store.commit(WriteSet(submissions=[record]))
        try:
            created, order_id, late, after = await self._add_lines(
                table, order_id, request, to_send, deadline, moves_expected=on_stream
            )
        except _CheckMoved as moved:
            moved.record = record
            raise
        caught_up = None
        if stream is not None and after is not None:
            caught_up = await self._catch_up(table, stream, after, writes,
                                             _own_line_ids(request, created))
        else:
            self._join(stream, request, created, order_id, writes)
        return self._outcome(request, created, [*refused, *late], order_id), record, caught_up

    async def _pos(self, operation: Callable[[], Awaitable[T]], deadline: Deadline) -> T:
        """A POS call under the deadline, its failures turned into whole-batch refusals."""
        try:
            return await call_pos(operation, deadline)
        except PosError as exc:
            raise _Refused(_pos_rejection(exc)) from exc

    async def _advance_stream(
        self, table: str, check: PosCheck, writes: WriteSet
    ) -> tuple[StreamRecord | None, bool]:
        """Push the changes the read reveals: the active stream after them, and whether
        the stream's check has closed."""
        ctx = self.ctx
        stream = await ctx.store.active_stream(ctx.location_id, table)
        if stream is None:
            return None, False
        current = await snapshot_of(ctx, table, check, stream.baseline)
        advance = advance_stream(stream, current, ctx.clock())
        if advance.changed:
            writes.streams.append(advance.stream)
            writes.outbox.extend(advance.messages)
        if advance.closed:
            return None, True
        return advance.stream, False

    def _join(
        self,
        stream: StreamRecord | None,
        request: OrderSubmissionRequested,
        created: Sequence[PosLine],
        order_id: str | None,
        writes: WriteSet,
    ) -> StreamRecord | None:
        """The created lines join the stream's baseline silently (contract §4.4)."""
        if stream is None or not created:
            return stream
        line_ids = _own_line_ids(request, created)
        joined = join_own_lines(stream, created, line_ids, order_id, self.ctx.clock())
        writes.put_stream(joined)
        return joined

    async def _catch_up(
        self, table: str, stream: StreamRecord, after: PosCheck, writes: WriteSet,
        created: Mapping[str, str],
    ) -> _CaughtUp | None:
        """Bring the stream up to the check the POS answered the add with: the lines the
        add ``created`` (posLineId -> lineId) join silently, as ours; what others changed
        since our read goes out now; and the watcher need not read the table again when
        the POS announces our own lines."""
        ctx = self.ctx
        current = await snapshot_of(ctx, table, after, stream.baseline, own=created)
        advance = advance_stream(stream, current, ctx.clock())
        if advance.changed:
            writes.put_stream(advance.stream)
            writes.outbox.extend(advance.messages)
        return None if advance.closed else _CaughtUp(after.version, advance.stream)

    async def _refuse_ended_session(self, table: str, session: str) -> None:
        ctx = self.ctx
        stream = await ctx.store.stream_for_session(ctx.location_id, table, session)
        if stream is not None and stream.status is not StreamStatus.ACTIVE:
            raise _Refused(rejection(
                RejectionReason.ORDER_CLOSED,
                f"table session {session} belongs to a stream that ended ({stream.status})",
            ))

    async def _earlier_lines(
        self, table: str, submission_id: str, deadline: Deadline
    ) -> tuple[PosLine, ...]:
        return await self._pos(
            lambda: self.ctx.driver.find_lines(table, external_ref(submission_id, "")), deadline
        )

    def _record(
        self,
        command: ParsedCommand,
        request: OrderSubmissionRequested,
        state: SubmissionState,
        plan: Plan,
        *,
        digest: str | None,
        created_at: datetime | None = None,
    ) -> SubmissionRecord:
        now = self.ctx.clock()
        context = request.order_context
        return SubmissionRecord(
            submission_id=request.submission_id,
            location_id=self.ctx.location_id,
            pos_table_id=cast(str, context.pos_table_id),
            table_session_id=context.table_session_id,
            message_id=command.message_id,
            state=state,
            outcome=None,
            result_payload=None,
            plan=plan.dump(),
            created_lines=(),
            pos_order_id=plan.expected_order_id,
            created_at=created_at or now,
            updated_at=now,
            request_digest=digest,
        )

    async def _add_lines(
        self,
        table: str,
        expected_order_id: str | None,
        request: OrderSubmissionRequested,
        items: Sequence[SubmissionItem],
        deadline: Deadline,
        *,
        moves_expected: bool = False,
    ) -> tuple[tuple[PosLine, ...], str | None, list[RejectedItem], PosCheck | None]:
        """Add the items; the created lines, the check's id, the items the POS refused,
        and the whole check after the add when the POS answered with it.

        The POS refuses a batch as a whole when an item changed since it was checked (a
        price moved meanwhile): under the partial policy the others are sent again.
        """
        late: list[RejectedItem] = []
        for _round in range(MAX_ROUNDS):
            lines = [_new_line(request.submission_id, item) for item in items]
            try:
                add = partial(self.ctx.driver.add_lines, table, expected_order_id, lines)
                added = await call_pos(add, deadline)
            except DuplicateReference as duplicate:
                # A call that timed out went through after all: those are our lines.
                return duplicate.existing, expected_order_id, late, None
            except ItemsRejected as refused:
                now_refused = _late_rejections(items, refused)
                late += now_refused
                refused_ids = {item.line_id for item in now_refused}
                items = [item for item in items if item.line_id not in refused_ids]
                if self.atomic or not items or not now_refused:
                    return (), expected_order_id, late, None
                continue
            except OrderClosed as exc:
                if moves_expected:
                    raise _CheckMoved from exc
                raise _Refused(_pos_rejection(exc)) from exc
            except PosError as exc:
                raise _Refused(_pos_rejection(exc)) from exc
            return added.lines, added.order_id, late, added.check
        return (), expected_order_id, late, None

    def _outcome(
        self,
        request: OrderSubmissionRequested,
        created: Sequence[PosLine],
        refused: Sequence[RejectedItem],
        order_id: str | None,
    ) -> OrderSubmissionResult:
        by_ref = {line.external_ref: line for line in created}
        accepted = []
        for item in request.items:
            line = by_ref.get(external_ref(request.submission_id, item.line_id))
            if line is not None:
                accepted.append(AcceptedItem(line_id=item.line_id, pos_line_id=line.line_id,
                                             quantity=line.quantity, unit_price=line.unit_price))
        done = {item.line_id for item in accepted} | {item.line_id for item in refused}
        # An item neither created nor refused before the call: the POS did not take it.
        missing = [_batch_rejected(i) for i in request.items if i.line_id not in done]
        rejected = [*refused, *missing]
        if accepted and rejected:
            outcome = SubmissionOutcome.PARTIALLY_ACCEPTED
        elif accepted:
            outcome = SubmissionOutcome.ACCEPTED
        else:
            outcome = SubmissionOutcome.REJECTED
        return _result(request, outcome, order_id, accepted, rejected)


def _own_line_ids(
    request: OrderSubmissionRequested, created: Sequence[PosLine]
) -> dict[str, str]:
    """posLineId -> OpenApp lineId of the lines this submission created."""
    prefix = external_ref(request.submission_id, "")
    return {
        line.line_id: (line.external_ref or "")[len(prefix):]
        for line in created
        if (line.external_ref or "").startswith(prefix)
    }


def validate_items(
    items: Sequence[SubmissionItem], products: Mapping[str, PosProduct]
) -> tuple[list[SubmissionItem], list[RejectedItem]]:
    """Split the items into those the POS should take and those it would refuse."""
    stock_left = {pid: p.stock for pid, p in products.items() if p.stock is not None}
    ok: list[SubmissionItem] = []
    refused: list[RejectedItem] = []
    for item in items:
        product = products.get(item.product_id)
        why = _item_problem(item, product, stock_left)
        if why is not None:
            refused.append(why)
            continue
        ok.append(item)
        if item.product_id in stock_left:
            stock_left[item.product_id] = (stock_left[item.product_id] or 0) - item.quantity
    return ok, refused


def _item_problem(
    item: SubmissionItem, product: PosProduct | None, stock_left: Mapping[str, int | None]
) -> RejectedItem | None:
    def refuse(reason: ItemRejectionReason, message: str, **extra: int) -> RejectedItem:
        return RejectedItem(line_id=item.line_id, reason=reason, message=message,
                            retryable=False, **extra)

    if product is None:
        return refuse(ItemRejectionReason.UNKNOWN_PRODUCT,
                      f"product {item.product_id!r} is not on the POS")
    if not product.available:
        return refuse(ItemRejectionReason.DELISTED, f"{product.name} is not available")
    stock = stock_left.get(item.product_id)
    if stock is not None and stock <= 0:
        return refuse(ItemRejectionReason.OUT_OF_STOCK, f"{product.name} is out of stock",
                      available_quantity=0)
    if stock is not None and stock < item.quantity:
        return refuse(ItemRejectionReason.INSUFFICIENT_STOCK,
                      f"only {stock} {product.name} left", available_quantity=stock)
    if product.price != item.unit_price:
        return refuse(ItemRejectionReason.PRICE_CHANGED,
                      f"{product.name} costs {product.price} now, not {item.unit_price}",
                      current_unit_price=product.price)
    return None


def _late_rejections(
    items: Sequence[SubmissionItem], refused: ItemsRejected
) -> list[RejectedItem]:
    """The POS's own per-item refusals, mapped onto the submitted items."""
    mapped = []
    for why in refused.rejections:
        if 0 <= why.index < len(items):
            mapped.append(RejectedItem(
                line_id=items[why.index].line_id,
                reason=ItemRejectionReason(why.reason.value),
                message=why.message,
                retryable=False,
                pos_detail=why.pos_detail,
                available_quantity=why.available_quantity,
                current_unit_price=why.current_unit_price,
            ))
    return mapped


def _new_line(submission_id: str, item: SubmissionItem) -> NewLine:
    return NewLine(
        product_id=item.product_id,
        quantity=item.quantity,
        unit_price=item.unit_price,
        notes=item.notes,
        modifier_ids=tuple(m.modifier_id for m in item.modifiers),
        external_ref=external_ref(submission_id, item.line_id),
    )


def _batch_rejected(item: SubmissionItem) -> RejectedItem:
    return RejectedItem(
        line_id=item.line_id,
        reason=ItemRejectionReason.BATCH_REJECTED,
        message="the item was fine but the batch was rejected",
        retryable=False,
    )


def _result(
    request: OrderSubmissionRequested,
    outcome: SubmissionOutcome,
    order_id: str | None,
    accepted: Sequence[AcceptedItem],
    rejected: Sequence[RejectedItem],
) -> OrderSubmissionResult:
    context = request.order_context
    return OrderSubmissionResult(
        submission_id=request.submission_id,
        order_context=EchoedOrderContext(type=context.type, pos_table_id=context.pos_table_id,
                                         table_session_id=context.table_session_id),
        outcome=outcome,
        pos_order_id=order_id,
        accepted_items=tuple(accepted),
        rejected_items=tuple(rejected),
    )


def request_digest(request: OrderSubmissionRequested) -> str:
    """What makes two messages the same submission: its order context, items and payment."""
    fields = request.model_dump(
        mode="json", include={"order_context", "items", "payment"}, by_alias=True
    )
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _same_request(
    record: SubmissionRecord, request: OrderSubmissionRequested, digest: str
) -> bool:
    context = request.order_context
    return (
        record.pos_table_id == context.pos_table_id
        and record.table_session_id == context.table_session_id
        and record.request_digest in (None, digest)  # None: recorded before digests
    )


def _reused(record: SubmissionRecord) -> Rejection:
    return rejection(
        RejectionReason.INVALID_REQUEST,
        f"submissionId {record.submission_id!r} was already used for table "
        f"{record.pos_table_id!r} (session {record.table_session_id!r}) with other items, "
        "order context or payment; that submission stands and this one is not applied",
    )


def _not_reconcilable(driver: str) -> Rejection:
    """An interrupted attempt that cannot be looked up is not sent again (at most once)."""
    return rejection(
        RejectionReason.NOT_SUPPORTED,
        f"an earlier attempt of this submission was interrupted during the POS call, and "
        f"the {driver} driver cannot look lines up by reference: it is not sent again "
        "(its items may be on the check)",
    )


def _pos_rejection(exc: PosError) -> Rejection:
    # A blocked table cannot take a submission: the closest submission reason.
    return pos_rejection(
        exc, SUBMISSION_REJECTION_REASONS, table_unavailable=RejectionReason.ORDER_CLOSED
    )
