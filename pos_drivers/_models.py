"""Driver-side models: what a POS driver reads and writes, normalised.

They are deliberately not the contract's models (``schemas``): a driver knows nothing
of streams, versions or origins. The handlers turn a :class:`PosCheck` into a contract
``Snapshot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Capability(StrEnum):
    """What a driver offers beyond reading checks; the handlers ask before they act."""

    ADD_LINES = "add_lines"
    """``add_lines`` puts items on a check (without it, submissions are NOT_SUPPORTED)."""
    PUSH_CHANGES = "push_changes"
    """``push_events()`` announces the tables as the POS changes them."""
    COMPLETE_PUSH = "complete_push"
    """The push channel announces every change: the batch poll beside it is only a safety
    net, run seldom (without this, some changes are only seen by polling)."""
    BATCH_CHANGES = "batch_changes"
    """``changes_since(cursor)`` lists the changed tables in one call."""
    EXTERNAL_REFS = "external_refs"
    """Lines keep the ``external_ref`` the adapter gave them, and ``find_lines`` finds
    them by it (what reconciliation after a crash needs)."""
    PREPAID_PAYMENTS = "prepaid_payments"
    """Submissions may carry a payment."""


class LineStatus(StrEnum):
    PENDING = "PENDING"
    PREPARING = "PREPARING"
    READY = "READY"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class PosModifier:
    modifier_id: str
    name: str
    quantity: int
    unit_price: int


@dataclass(frozen=True, slots=True, weakref_slot=True)
class PosLine:
    """A line on a POS check. Money in minor units. (Weakly referable: a driver may share
    one while anything holds it, see ``pos_drivers.mock``.)"""

    line_id: str
    product_id: str
    name: str
    quantity: int
    unit_price: int
    status: LineStatus
    notes: str | None = None
    modifiers: tuple[PosModifier, ...] = ()
    external_ref: str | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((
            self.line_id, self.product_id, self.name, self.quantity, self.unit_price,
            self.status, self.notes, self.modifiers, self.external_ref,
        )))

    def __hash__(self) -> int:
        """Made once: every read of a check looks each of its lines up by value (see
        ``handlers._snapshots.to_line``), and nine fields cost a tuple's hash each time."""
        return self._hash


@dataclass(frozen=True, slots=True)
class PosDiscount:
    discount_id: str
    name: str
    amount: int
    line_id: str | None = None


@dataclass(frozen=True, slots=True)
class PosTotals:
    """Totals as the POS computed them, for a POS that reports its own."""

    subtotal: int
    discount_total: int
    tax_total: int
    total: int


@dataclass(frozen=True, slots=True)
class PosCheck:
    """A table and its open check; ``order_id`` is None when the table has no open check.

    ``version``: the POS's token for this state of the check, for a POS that keeps one
    (it changes with every change, and push announcements carry it): the watcher does
    not read a table again for a version its stream already reflects.
    """

    table_id: str
    table_name: str
    order_id: str | None
    currency: str
    lines: tuple[PosLine, ...] = ()
    discounts: tuple[PosDiscount, ...] = ()
    totals: PosTotals | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class PosProduct:
    """A product as the POS sells it; ``stock`` None means unlimited."""

    product_id: str
    name: str
    price: int
    available: bool
    stock: int | None = None


@dataclass(frozen=True, slots=True)
class NewLine:
    """A line the adapter asks the POS to add."""

    product_id: str
    quantity: int
    unit_price: int
    notes: str | None = None
    modifier_ids: tuple[str, ...] = ()
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class AddedLines:
    """The check the lines went on and the created lines, in the order they were asked for.

    ``check``: the whole check right after the add, for a POS that answers with it (the
    handler then brings the stream up to it, and the watcher need not read it again).
    """

    order_id: str
    lines: tuple[PosLine, ...]
    check: PosCheck | None = None


@dataclass(frozen=True, slots=True)
class ChangedTables:
    """The answer to a batch change poll.

    ``table_ids`` changed after the cursor that was passed in; ``cursor`` is the one to
    pass next time.
    """

    table_ids: frozenset[str]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One item of a push channel.

    ``table_id`` is a table that may have changed; None means the channel has just
    (re)connected, so whatever happened while it was down is unknown: resynchronise
    every watched table. ``version`` is the table's check version after the change
    (see ``PosCheck.version``), when the POS says.
    """

    table_id: str | None
    version: str | None = None
