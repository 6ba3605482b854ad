"""The submission flow (§4.3, §4.4): OrderSubmissionRequested and its result.

Request rules that make a submission ``INVALID_REQUEST``: 1-100 items, quantity 1-99,
``lineId`` unique within the submission (each repeat is named, e.g.
``payload.items[3].lineId``), notes at most 500 characters, prices not negative; a
``TABLE`` order context needs ``posTableId`` and ``tableSessionId``. ``orderContext.type``
is any identifier: an unknown type is the handler's ``UNSUPPORTED_ORDER_CONTEXT``, not a
malformed request.

A submitted modifier is ``{modifierId, name?, quantity?, unitPrice?}``: the POS knows its
modifiers, so only the id is required; ``name`` is informative, ``quantity`` null means 1,
and ``unitPrice`` (the price the customer saw) lets a driver detect a price change.

In the result, ``submissionId`` and ``orderContext`` (and each of its fields) may be null:
they are echoed from the request, and a ``REJECTED`` / ``INVALID_REQUEST`` result is
sometimes built from a request that lacked them. :meth:`EchoedOrderContext.from_raw` keeps
whatever part of a raw order context can be echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import (
    BeforeValidator,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._common import (
    CurrencyCode,
    Identifier,
    ItemRejectionReason,
    Money,
    OrderContextType,
    Quantity,
    Rejection,
    RejectionReason,
    SubmissionOutcome,
    Timestamp,
    WireModel,
    identifier_or_none,
)

__all__ = [
    "SUBMISSION_REJECTION_REASONS",
    "AcceptedItem",
    "EchoedOrderContext",
    "OrderContext",
    "OrderSubmissionRequested",
    "OrderSubmissionResult",
    "Payment",
    "Receipt",
    "RejectedItem",
    "SubmissionItem",
    "SubmissionModifier",
]

SUBMISSION_REJECTION_REASONS = frozenset(
    {
        RejectionReason.ORDER_CLOSED,
        RejectionReason.TABLE_NOT_FOUND,
        RejectionReason.POS_UNAVAILABLE,
        RejectionReason.INVALID_REQUEST,
        RejectionReason.LOCATION_MISMATCH,
        RejectionReason.EXPIRED,
        RejectionReason.UNSUPPORTED_ORDER_CONTEXT,
        RejectionReason.NOT_SUPPORTED,
    }
)
"""The submission-level rejection reasons a submission result may carry."""

ItemQuantity = Annotated[int, Strict(), Field(ge=1, le=99)]
Price = Annotated[int, Strict(), Field(ge=0)]
Notes = Annotated[str, Strict(), Field(max_length=500)]


# -- request -------------------------------------------------------------------------------


class EchoedOrderContext(WireModel):
    """An order context as a result echoes it: every field may be missing."""

    type: Identifier | None = None
    pos_table_id: Identifier | None = None
    table_session_id: Identifier | None = None

    @classmethod
    def from_raw(cls, raw: object) -> EchoedOrderContext | None:
        """Echo the usable fields of a raw (possibly invalid) ``orderContext``."""
        if not isinstance(raw, Mapping):
            return None
        return EchoedOrderContext(
            type=identifier_or_none(raw.get("type")),
            pos_table_id=identifier_or_none(raw.get("posTableId")),
            table_session_id=identifier_or_none(raw.get("tableSessionId")),
        )


class OrderContext(EchoedOrderContext):
    """Where the order goes; for ``TABLE``, the table and the customer's session."""

    type: Identifier
    pos_table_id: Identifier | None = Field(default=None, validate_default=True)
    table_session_id: Identifier | None = Field(default=None, validate_default=True)

    @field_validator("pos_table_id", "table_session_id", mode="after")
    @classmethod
    def _required_for_table(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("type") == OrderContextType.TABLE:
            raise PydanticCustomError("required_for_table", "required for a TABLE order context")
        return value


class SubmissionModifier(WireModel):
    modifier_id: Identifier
    name: str | None = None
    quantity: ItemQuantity | None = None
    unit_price: Price | None = None


class _DuplicateLineId:
    """Stands in for a repeated lineId, so that the repeat is reported at its own place."""

    __slots__ = ("first",)

    def __init__(self, first: int) -> None:
        self.first = first


def _none_as_empty(value: Any) -> Any:
    """An optional list may come as null (contract §3); it means the same as empty."""
    return () if value is None else value


class SubmissionItem(WireModel):
    line_id: Identifier
    product_id: Identifier
    quantity: ItemQuantity
    unit_price: Price
    notes: Notes | None = None
    modifiers: Annotated[tuple[SubmissionModifier, ...], BeforeValidator(_none_as_empty)] = ()
    """Absent or null: none."""

    @field_validator("line_id", mode="before")
    @classmethod
    def _not_a_repeat(cls, value: Any) -> Any:
        if isinstance(value, _DuplicateLineId):
            raise PydanticCustomError(
                "duplicate_line_id", "repeats items[{first}].lineId", {"first": value.first}
            )
        return value


def _mark_duplicate_line_ids(items: Any) -> Any:
    """Replace each repeated lineId by a marker that the item's own validation rejects.

    Done before item validation so that a repeat is reported together with every other
    error of the submission, at ``items[i].lineId``.
    """
    if not isinstance(items, list | tuple):
        return items
    first_seen: dict[str, int] = {}
    marked: list[Any] = []
    for index, item in enumerate(items):
        raw = item.model_dump() if isinstance(item, SubmissionItem) else item
        line_id = raw.get("lineId", raw.get("line_id")) if isinstance(raw, Mapping) else None
        if not isinstance(line_id, str):
            marked.append(item)
        elif line_id in first_seen:
            marked.append({**raw, "lineId": _DuplicateLineId(first_seen[line_id])})
        else:
            first_seen[line_id] = index
            marked.append(item)
    return marked


class Payment(WireModel):
    """A prepaid submission's payment, made on the OpenApp side."""

    payment_id: Identifier
    amount: Price
    currency: CurrencyCode
    method: Identifier
    paid_at: Timestamp


class OrderSubmissionRequested(WireModel):
    """Add items to a table's check; applied at most once per ``submissionId``."""

    submission_id: Identifier
    order_context: OrderContext
    items: Annotated[
        list[SubmissionItem],
        Field(min_length=1, max_length=100),
        BeforeValidator(_mark_duplicate_line_ids),
    ]
    """A list, not a tuple like the other sequences: pydantic checks a tuple's length even
    when an item failed, which would add a false "must not be empty" to the error."""
    payment: Payment | None = None
    """None: postpaid (the table flow)."""


# -- result --------------------------------------------------------------------------------


class AcceptedItem(WireModel):
    line_id: Identifier
    pos_line_id: Identifier
    quantity: Quantity
    unit_price: Money


class RejectedItem(WireModel):
    """An item the POS did not take; ``available_quantity`` goes with INSUFFICIENT_STOCK,
    ``current_unit_price`` with PRICE_CHANGED."""

    line_id: Identifier
    reason: ItemRejectionReason
    message: str
    retryable: Annotated[bool, Strict()]
    pos_detail: str | None = None
    available_quantity: Annotated[int, Strict(), Field(ge=0)] | None = None
    current_unit_price: Money | None = None


class Receipt(WireModel):
    """The POS's proof of a prepaid submission."""

    pos_receipt_id: Identifier
    total: Money
    currency: CurrencyCode
    issued_at: Timestamp


class OrderSubmissionResult(WireModel):
    """Every submitted item is in exactly one of ``accepted_items`` and ``rejected_items``."""

    submission_id: Identifier | None = None
    order_context: EchoedOrderContext | None = None
    outcome: SubmissionOutcome
    pos_order_id: Identifier | None = None
    accepted_items: tuple[AcceptedItem, ...] = ()
    rejected_items: tuple[RejectedItem, ...] = ()
    rejection: Rejection | None = None
    receipt: Receipt | None = None

    @model_validator(mode="after")
    def _outcome_matches(self) -> Self:
        problem = _outcome_problem(self)
        if problem is not None:
            raise PydanticCustomError("outcome", problem)
        return self


def _outcome_problem(result: OrderSubmissionResult) -> str | None:
    """What in ``result`` contradicts its outcome, or None."""
    accepted, rejected = result.accepted_items, result.rejected_items
    line_ids = [item.line_id for item in accepted] + [item.line_id for item in rejected]
    if len(set(line_ids)) != len(line_ids):
        return "an item is listed more than once in acceptedItems and rejectedItems"
    if result.rejection is not None:
        if result.outcome is not SubmissionOutcome.REJECTED:
            return "only a REJECTED result carries a rejection"
        if result.rejection.reason not in SUBMISSION_REJECTION_REASONS:
            return f"{result.rejection.reason.value} is not a submission rejection reason"
    expected = {
        SubmissionOutcome.ACCEPTED: bool(accepted) and not rejected,
        SubmissionOutcome.PARTIALLY_ACCEPTED: bool(accepted) and bool(rejected),
        SubmissionOutcome.REJECTED: not accepted and (bool(rejected) or bool(result.rejection)),
    }
    if not expected[result.outcome]:
        return f"acceptedItems and rejectedItems do not fit outcome {result.outcome.value}"
    return None
