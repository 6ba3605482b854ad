"""Shared building blocks of the wire contract (§3): field types, enums, shared models.

Every model derives from :class:`WireModel`: snake_case attributes in Python, camelCase
names on the wire, unknown fields ignored (forward compatible), immutable. Sequences are
tuples (but for a submission's items, see ``_submission``) so that a model can be shared
between tasks without copying.

Money and quantities are *strict* integers: ``"12"``, ``12.0`` and ``true`` are errors,
not coercions, because a silently rounded price is worse than a rejected message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from ._text import is_storable

__all__ = [
    "ChangeType",
    "CurrencyCode",
    "Discount",
    "Identifier",
    "ItemRejectionReason",
    "Line",
    "LineOrigin",
    "LineStatus",
    "Modifier",
    "Money",
    "OrderContextType",
    "OrderStatus",
    "Quantity",
    "Rejection",
    "RejectionReason",
    "Snapshot",
    "SnapshotOutcome",
    "SnapshotReason",
    "SubmissionOutcome",
    "Timestamp",
    "Totals",
    "WireModel",
    "compute_totals",
    "identifier_or_none",
    "line_total",
]


class WireModel(BaseModel):
    """Base of every contract model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
        json_schema_serialization_defaults_required=True,
        field_title_generator=lambda name, _info: to_camel(name),
    )


# -- field types ---------------------------------------------------------------------------

Identifier = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=128)]
"""An opaque identifier: a string of 1-128 characters."""


def identifier_or_none(value: object) -> str | None:
    """``value`` if it is a usable identifier (1-128 characters of text a result can
    carry and a store can keep), else None: for echoing raw fields."""
    if isinstance(value, str) and 1 <= len(value) <= 128 and is_storable(value):
        return value
    return None


Money = Annotated[int, Strict()]
"""An amount in minor units of the snapshot's currency; a JSON integer only."""

Quantity = Annotated[int, Strict(), Field(ge=1)]
"""A count of units; a JSON integer, at least 1."""

CurrencyCode = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 alphabetic code (three upper-case letters)."""

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
)


def _rfc3339_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise coerce: numbers, Unix times, offset-less text."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise PydanticCustomError(
        "rfc3339", "must be an RFC 3339 date-time with an offset, like 2026-11-21T19:00:00Z"
    )


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
"""An RFC 3339 date-time with an offset; serialised as ISO 8601 (UTC as ``Z``)."""


# -- enums ---------------------------------------------------------------------------------


class LineStatus(StrEnum):
    PENDING = "PENDING"
    PREPARING = "PREPARING"
    READY = "READY"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


class LineOrigin(StrEnum):
    POS = "POS"
    """Added on the POS side: waiter, kitchen, POS terminal."""
    OPENAPP = "OPENAPP"
    """Came from an OpenApp submission; the line carries ``openAppLineId``."""


class OrderStatus(StrEnum):
    NONE = "NONE"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    """Only in the snapshot an ``ORDER_CLOSED`` change carries: the check as last seen."""


class ChangeType(StrEnum):
    """Change types in the contract's order, which is also the order they are published in."""

    ORDER_OPENED = "ORDER_OPENED"
    POS_LINE_ADDED = "POS_LINE_ADDED"
    LINE_QUANTITY_CHANGED = "LINE_QUANTITY_CHANGED"
    LINE_UPDATED = "LINE_UPDATED"
    LINE_STATUS_CHANGED = "LINE_STATUS_CHANGED"
    LINE_DELIVERED = "LINE_DELIVERED"
    LINE_CANCELLED = "LINE_CANCELLED"
    LINE_REMOVED = "LINE_REMOVED"
    DISCOUNT_APPLIED = "DISCOUNT_APPLIED"
    DISCOUNT_REMOVED = "DISCOUNT_REMOVED"
    ORDER_CLOSED = "ORDER_CLOSED"


class SnapshotReason(StrEnum):
    """Why OpenApp asks for a snapshot; ``PRE_PAYMENT`` must read the POS, never a cache."""

    SESSION_START = "SESSION_START"
    REFRESH = "REFRESH"
    PRE_PAYMENT = "PRE_PAYMENT"


class RejectionReason(StrEnum):
    """Every command-level rejection reason; each result type allows a subset of them."""

    TABLE_NOT_FOUND = "TABLE_NOT_FOUND"
    TABLE_UNAVAILABLE = "TABLE_UNAVAILABLE"
    ORDER_CLOSED = "ORDER_CLOSED"
    POS_UNAVAILABLE = "POS_UNAVAILABLE"
    INVALID_REQUEST = "INVALID_REQUEST"
    LOCATION_MISMATCH = "LOCATION_MISMATCH"
    EXPIRED = "EXPIRED"
    UNSUPPORTED_ORDER_CONTEXT = "UNSUPPORTED_ORDER_CONTEXT"
    NOT_SUPPORTED = "NOT_SUPPORTED"


class ItemRejectionReason(StrEnum):
    OUT_OF_STOCK = "OUT_OF_STOCK"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    DELISTED = "DELISTED"
    PRICE_CHANGED = "PRICE_CHANGED"
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    BATCH_REJECTED = "BATCH_REJECTED"
    """The item was fine but the batch was rejected as a whole."""


class SnapshotOutcome(StrEnum):
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"


class SubmissionOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    PARTIALLY_ACCEPTED = "PARTIALLY_ACCEPTED"
    REJECTED = "REJECTED"


class OrderContextType(StrEnum):
    """Order context types this package knows; the wire field accepts any identifier so
    that an unknown type is answered ``UNSUPPORTED_ORDER_CONTEXT``, not ``INVALID_REQUEST``."""

    TABLE = "TABLE"


# -- shared models -------------------------------------------------------------------------


class Modifier(WireModel):
    modifier_id: Identifier
    name: str
    quantity: Quantity
    unit_price: Money


class Line(WireModel):
    """A line on the POS check; ``total_price`` is :func:`line_total` of its parts."""

    pos_line_id: Identifier
    product_id: Identifier
    name: str
    quantity: Quantity
    unit_price: Money
    total_price: Money
    status: LineStatus
    origin: LineOrigin
    open_app_line_id: Identifier | None = None
    notes: str | None = None
    modifiers: tuple[Modifier, ...] = ()


class Discount(WireModel):
    pos_discount_id: Identifier
    name: str
    amount: Annotated[int, Strict(), Field(gt=0)]
    pos_line_id: Identifier | None = None
    """None: the discount applies to the whole check."""


class Totals(WireModel):
    subtotal: Money
    discount_total: Money
    tax_total: Money
    total: Annotated[int, Strict(), Field(ge=0)]


class Snapshot(WireModel):
    """One table's check. ``pos_order_id`` is None exactly when ``order_status`` is NONE;
    line and discount ids are unique (the diff engine matches on them)."""

    pos_table_id: Identifier
    table_name: str | None = None
    pos_order_id: Identifier | None = None
    order_status: OrderStatus
    currency: CurrencyCode
    lines: tuple[Line, ...] = ()
    discounts: tuple[Discount, ...] = ()
    totals: Totals
    version: Annotated[int, Strict(), Field(ge=0)]
    captured_at: Timestamp

    @model_validator(mode="after")
    def _check_matches_status(self) -> Self:
        has_check = self.order_status is not OrderStatus.NONE
        if has_check != (self.pos_order_id is not None):
            raise PydanticCustomError(
                "order_status", "posOrderId must be null exactly when orderStatus is NONE"
            )
        if not has_check and (self.lines or self.discounts):
            raise PydanticCustomError(
                "order_status", "a snapshot with orderStatus NONE has no lines or discounts"
            )
        if _has_repeats([line.pos_line_id for line in self.lines]):
            raise PydanticCustomError("unique", "posLineId must be unique within a snapshot")
        if _has_repeats([discount.pos_discount_id for discount in self.discounts]):
            raise PydanticCustomError("unique", "posDiscountId must be unique within a snapshot")
        return self


def _has_repeats(ids: Sequence[str]) -> bool:
    return len(set(ids)) != len(ids)


class Rejection(WireModel):
    """Why a command was refused. ``retryable``: the same command may succeed later."""

    reason: RejectionReason
    message: str
    retryable: Annotated[bool, Strict()]
    pos_detail: str | None = None

    @classmethod
    def of(cls, reason: RejectionReason, message: str, pos_detail: str | None = None) -> Self:
        """A rejection with ``retryable`` as the contract sets it: true for POS_UNAVAILABLE."""
        return cls(
            reason=reason,
            message=message,
            retryable=reason is RejectionReason.POS_UNAVAILABLE,
            pos_detail=pos_detail,
        )


# -- totals --------------------------------------------------------------------------------


def line_total(quantity: int, unit_price: int, modifiers: Iterable[Modifier] = ()) -> int:
    """quantity x (unitPrice + sum of modifier unitPrice x modifier quantity)."""
    return quantity * (unit_price + sum(m.unit_price * m.quantity for m in modifiers))


_CANCELLED = LineStatus.CANCELLED
"""A member looked up once: ``LineStatus.CANCELLED`` costs an enum lookup per line."""


def compute_totals(
    lines: Iterable[Line], discounts: Iterable[Discount], tax_total: int = 0,
    *, subtotal_before: int = 0,
) -> Totals:
    """Totals per §3, for a POS that does not report its own: cancelled lines count nothing,
    and the total never goes below 0. ``subtotal_before``: the subtotal of the check's
    other lines, counted already."""
    subtotal = subtotal_before + sum(
        line.total_price for line in lines if line.status is not _CANCELLED
    )
    discount_total = sum(discount.amount for discount in discounts)
    return Totals(
        subtotal=subtotal,
        discount_total=discount_total,
        tax_total=tax_total,
        total=max(0, subtotal - discount_total + tax_total),
    )
