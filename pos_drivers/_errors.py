"""The errors a POS driver raises, which the handlers map to the contract's reasons.

Hierarchy::

    PosError                      any failure talking to a POS
    ├── PosUnavailable            transient: timeout, connection refused, 5xx, 429.
    │                             Retried with back-off under the deadline, then
    │                             answered POS_UNAVAILABLE (retryable).
    ├── CursorExpired             the POS no longer knows a change cursor: resynchronise.
    ├── StartRefused              raised by ``open()``: the POS refuses the driver's
    │                             configuration for good (a role it never accepts); the
    │                             adapter does not start (exit code 2).
    └── PosBusinessError          the POS answered and said no (never retried)
        ├── TableNotFound         -> TABLE_NOT_FOUND
        ├── TableUnavailable      -> TABLE_UNAVAILABLE (blocked, maintenance, ...)
        ├── OrderClosed           -> ORDER_CLOSED (the expected check is not open)
        ├── NotSupported          -> NOT_SUPPORTED / UNSUPPORTED_ORDER_CONTEXT
        ├── DuplicateReference    an external reference was already used; carries
        │                         the lines that hold it (a call that timed out may
        │                         have succeeded)
        └── ItemsRejected         per-item business reasons; nothing was applied

Every error carries ``pos_detail``: the POS's own error code or text, passed on to
OpenApp as the rejection's ``posDetail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pos_drivers._models import PosLine


class PosError(Exception):
    """Base of every driver error."""

    def __init__(self, message: str, *, pos_detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos_detail = pos_detail


class PosUnavailable(PosError):
    """The POS could not be reached or failed in a way worth retrying.

    ``retry_after`` is the delay (seconds) the POS asked for, if it said (429).
    """

    def __init__(
        self, message: str, *, pos_detail: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, pos_detail=pos_detail)
        self.retry_after = retry_after


class CursorExpired(PosError):
    """The change cursor is unknown to the POS (it restarted): resynchronise every table."""


class StartRefused(PosError):
    """The POS will never accept this configuration (credentials, role): don't start."""


class PosBusinessError(PosError):
    """The POS answered and refused."""


class TableNotFound(PosBusinessError):
    pass


class TableUnavailable(PosBusinessError):
    pass


class OrderClosed(PosBusinessError):
    pass


class NotSupported(PosBusinessError):
    pass


class DuplicateReference(PosBusinessError):
    """An external reference was used before; ``existing`` are the lines that carry it."""

    def __init__(
        self, message: str, *, existing: tuple[PosLine, ...], pos_detail: str | None = None
    ) -> None:
        super().__init__(message, pos_detail=pos_detail)
        self.existing = existing


class ItemReason(StrEnum):
    """Per-item reasons, spelled as the contract spells them."""

    OUT_OF_STOCK = "OUT_OF_STOCK"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    DELISTED = "DELISTED"
    PRICE_CHANGED = "PRICE_CHANGED"
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"


@dataclass(frozen=True, slots=True)
class ItemRejection:
    """Why the POS refused the item at ``index`` of the lines it was given."""

    index: int
    reason: ItemReason
    message: str
    pos_detail: str | None = None
    available_quantity: int | None = None
    current_unit_price: int | None = None


class ItemsRejected(PosBusinessError):
    """Some items were refused; the POS applied none of the batch."""

    def __init__(
        self, message: str, *, rejections: tuple[ItemRejection, ...], pos_detail: str | None = None
    ) -> None:
        super().__init__(message, pos_detail=pos_detail)
        self.rejections = rejections
