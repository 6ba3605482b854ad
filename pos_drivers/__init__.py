"""POS drivers: the interface, its models and errors, and the registry."""

from pos_drivers._base import DriverConfig, PosDriver
from pos_drivers._errors import (
    CursorExpired,
    DuplicateReference,
    ItemReason,
    ItemRejection,
    ItemsRejected,
    NotSupported,
    OrderClosed,
    PosBusinessError,
    PosError,
    PosUnavailable,
    StartRefused,
    TableNotFound,
    TableUnavailable,
)
from pos_drivers._http import on_http_client
from pos_drivers._models import (
    AddedLines,
    Capability,
    ChangedTables,
    LineStatus,
    NewLine,
    PosCheck,
    PosDiscount,
    PosLine,
    PosModifier,
    PosProduct,
    PosTotals,
    PushEvent,
)
from pos_drivers._registry import available_drivers, load_driver
from pos_drivers._settings import DriverSettings
from pos_drivers._shared import SharedValues

__all__ = [
    "AddedLines",
    "Capability",
    "ChangedTables",
    "CursorExpired",
    "DriverConfig",
    "DriverSettings",
    "DuplicateReference",
    "ItemReason",
    "ItemRejection",
    "ItemsRejected",
    "LineStatus",
    "NewLine",
    "NotSupported",
    "OrderClosed",
    "PosBusinessError",
    "PosCheck",
    "PosDiscount",
    "PosDriver",
    "PosError",
    "PosLine",
    "PosModifier",
    "PosProduct",
    "PosTotals",
    "PosUnavailable",
    "PushEvent",
    "SharedValues",
    "StartRefused",
    "TableNotFound",
    "TableUnavailable",
    "available_drivers",
    "load_driver",
    "on_http_client",
]
