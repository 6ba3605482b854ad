"""What the driver assumes about the Table Management API's answers, in one place.

The API's document (``table-management-api.txt``) fixes the table entity, the endpoints,
the statuses and the error body. It says nothing about the embedded order
(``OrderResponse``), money formats beyond "decimal", or currencies, and no running
instance was available: every assumption is listed here, each with the function that
carries it, so that meeting a real instance means editing this module (and its tests)
only. Everything here is pure: no I/O, no logging.

A1  Numbers. Answers are parsed by :func:`loads`, so that a JSON number keeps its exact
    decimal form (``Decimal``, never float); ``NaN``/``Infinity`` are refused.
A2  Money is a "decimal": a JSON number or a string (``"12500.50"``), converted to integer
    minor units by the currency's ISO 4217 exponent (:data:`MINOR_UNITS`, 2 for a code
    not listed), rounding half up when more digits are given (:func:`to_minor`). A bool,
    a float, an empty or non-numeric string, NaN or infinity is malformed. If a real
    instance sends integer minor units instead, divide in :func:`to_minor`.
A3  OrderResponse (a table's ``order``): ``{id, order_number, status, currency?,
    subtotal, tax_amount, discount_amount, total_amount, order_items, created_at,
    updated_at}``. Read: ``id``, ``currency``, the four money fields, ``order_items``;
    ``status`` is ignored (the table's status says whether the check is open); unknown
    fields are ignored everywhere (:func:`check_of`).
A4  Order items: ``{id, product_id, product_name, quantity, unit_price, total_price,
    status, notes?}``. ``id`` is the line id (required, unique in the order);
    ``quantity`` an integer >= 1 (a decimal without fraction is accepted);
    ``total_price`` is not read (the contract's line total is quantity x unit price);
    an item without ``product_id`` gets :data:`UNKNOWN_PRODUCT`; empty notes are None.
    A missing or null ``order_items`` is an order without lines (:func:`line_of`).
A5  Item status (:data:`ITEM_STATUS`): ``pending`` -> PENDING, ``preparing`` ->
    PREPARING, ``ready`` -> READY, ``served``/``completed`` -> DELIVERED,
    ``cancelled``/``void`` -> CANCELLED, case-insensitive; anything else is PENDING
    and is listed in :attr:`Reading.unknown_statuses` (the driver warns once per value).
A6  Currency: ``order.currency`` when it is a three-letter code (any case), else the
    ``POS_ADAPTER_TABLEMGMT_CURRENCY`` setting (:func:`currency_of`).
A7  Totals: passed on (:class:`PosTotals`) when the order has all four of
    ``subtotal``, ``discount_amount``, ``tax_amount``, ``total_amount``; otherwise the
    adapter computes them from the lines. A ``discount_amount`` above zero is also one
    whole-check discount ``"<order id>:discount"`` (:func:`check_of`).
A8  Table status (:func:`table_state`): ``available``/``cleaning`` -> no check;
    ``occupied`` -> an open check; ``reserved``/``maintenance`` -> TableUnavailable;
    ``is_active: false`` -> TableUnavailable whatever the status; any other status ->
    TableUnavailable too (:func:`table_state` names it, for the driver to warn once).
A9  An occupied table's check id is the table's ``order_id``, else ``order.id``, else
    ``"<table id>@<start_time>"``. An occupied table without ``order`` is an open check
    with no lines.
A10 Table list (:func:`table_page`): ``{tables, total_count, page, limit,
    total_pages}``; ``id`` and ``table_name`` of each item are read; ``total_pages``
    missing or 0 means this page is the last.
A11 Occupied list (:func:`occupied_tables`): a plain array; ``id``, ``table_name``,
    ``order_id`` and ``order`` of each item are read; a table's entry has changed when
    its ``order_id`` or ``order`` differs (money compared as numbers).
A12 Errors: ``{"error", "message"}``; ``error`` becomes the rejection's ``posDetail``
    (:func:`error_of`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any, Final

from pos_drivers._errors import TableUnavailable
from pos_drivers._models import LineStatus, PosCheck, PosDiscount, PosLine, PosTotals

Json = Mapping[str, Any]

UNKNOWN_PRODUCT: Final = "unknown"

MINOR_UNITS: Final[Mapping[str, int]] = {
    # ISO 4217 exponents other than 2 (the default), and IDR, which this API serves most.
    "IDR": 2,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip
DEFAULT_MINOR_UNITS: Final = 2

ITEM_STATUS: Final[Mapping[str, LineStatus]] = {
    "pending": LineStatus.PENDING,
    "preparing": LineStatus.PREPARING,
    "ready": LineStatus.READY,
    "served": LineStatus.DELIVERED,
    "completed": LineStatus.DELIVERED,
    "cancelled": LineStatus.CANCELLED,
    "void": LineStatus.CANCELLED,
}

_MAX_ID = 128


class MalformedAnswer(ValueError):
    """The POS answered something these assumptions cannot read."""


# -- A1, A2: numbers and money ----------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise MalformedAnswer(f"{name} is not a number")


def loads(content: bytes | str) -> Any:
    """JSON with exact decimals: ``12.5`` is ``Decimal("12.5")``, never a float."""
    try:
        return json.loads(content, parse_float=Decimal, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedAnswer(f"not JSON: {exc}") from None


def minor_units(currency: str) -> int:
    """The ISO 4217 exponent of ``currency`` (2 when it is not in the table)."""
    return MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS)


def decimal_of(value: object, what: str = "amount") -> Decimal:
    """A finite decimal from a JSON number (int or Decimal) or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise MalformedAnswer(f"{what} must be a decimal number or string, not {value!r}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise MalformedAnswer(f"{what} is not a decimal: {value!r}") from None
    if not number.is_finite():
        raise MalformedAnswer(f"{what} is not finite: {value!r}")
    return number


def to_minor(value: object, currency: str, what: str = "amount") -> int:
    """``value`` in integer minor units of ``currency`` (``"12.50"`` PEN -> 1250)."""
    number = decimal_of(value, what).scaleb(minor_units(currency))
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _quantity(value: object) -> int:
    number = decimal_of(value, "quantity")
    if number != number.to_integral_value() or number < 1:
        raise MalformedAnswer(f"quantity must be a whole number of at least 1, not {value!r}")
    return int(number)


# -- A3-A9: a table and its check -------------------------------------------------------


class TableState(Enum):
    FREE = "free"
    OCCUPIED = "occupied"
    UNAVAILABLE = "unavailable"


TABLE_STATUS: Final[Mapping[str, TableState]] = {
    "available": TableState.FREE,
    "cleaning": TableState.FREE,
    "occupied": TableState.OCCUPIED,
    "reserved": TableState.UNAVAILABLE,
    "maintenance": TableState.UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class Reading:
    """A table read: its check, and the statuses no assumption knew (to warn about)."""

    check: PosCheck
    unknown_statuses: frozenset[str] = frozenset()


def _object(value: object, what: str) -> Json:
    if not isinstance(value, Mapping):
        raise MalformedAnswer(f"{what} must be a JSON object")
    return value


def _ident(value: object, what: str) -> str:
    """An id the contract accepts: a JSON string or integer, 1-128 characters."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedAnswer(f"{what} must be a string, not {value!r}")
    text = str(value)
    if not 1 <= len(text) <= _MAX_ID:
        raise MalformedAnswer(f"{what} must have 1 to {_MAX_ID} characters")
    return text


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def item_status(raw: object) -> LineStatus | None:
    """The line status of an item's ``status`` (A5); None when it is not known."""
    return ITEM_STATUS.get(raw.strip().lower()) if isinstance(raw, str) else None


def table_state(table: Json) -> tuple[TableState, str | None]:
    """What the table's ``status`` and ``is_active`` mean (A8), and an unknown status."""
    raw = table.get("status")
    status = raw.strip().lower() if isinstance(raw, str) else ""
    state = TABLE_STATUS.get(status)
    unknown = None if state is not None else str(raw)
    if table.get("is_active") is False:
        return TableState.UNAVAILABLE, unknown
    return state or TableState.UNAVAILABLE, unknown


def currency_of(order: Json | None, default: str) -> str:
    """The order's currency when it names a valid code (A6), else ``default``."""
    raw = order.get("currency") if order is not None else None
    if isinstance(raw, str) and len(raw.strip()) == 3 and raw.strip().isalpha():
        return raw.strip().upper()
    return default


def line_of(item: Json, currency: str) -> tuple[PosLine, str | None]:
    """One order item as a line (A4, A5), and its status when no assumption knows it."""
    status = item_status(item.get("status"))
    product = item.get("product_id")
    line = PosLine(
        line_id=_ident(item.get("id"), "an order item's id"),
        product_id=UNKNOWN_PRODUCT if product in (None, "") else _ident(product, "product_id"),
        name=str(item.get("product_name") or ""),
        quantity=_quantity(item.get("quantity")),
        unit_price=to_minor(item.get("unit_price"), currency, "unit_price"),
        status=status or LineStatus.PENDING,
        notes=_text(item.get("notes")),
    )
    return line, None if status is not None else str(item.get("status"))


def totals_of(order: Json, currency: str) -> PosTotals | None:
    """The order's own totals (A7), when it reports all four."""
    keys = ("subtotal", "discount_amount", "tax_amount", "total_amount")
    if any(order.get(key) is None for key in keys):
        return None
    subtotal, discount, tax, total = (to_minor(order[key], currency, key) for key in keys)
    return PosTotals(subtotal=subtotal, discount_total=discount, tax_total=tax, total=total)


def order_id_of(table: Json, order: Json | None, table_id: str) -> str:
    """The check's id (A9)."""
    for candidate in (table.get("order_id"), order.get("id") if order else None):
        if candidate not in (None, ""):
            return _ident(candidate, "order_id")
    start = table.get("start_time")
    return f"{table_id}@{start}"[:_MAX_ID] if start else f"{table_id}@occupied"[:_MAX_ID]


def check_of(table: Json, *, table_id: str, default_currency: str) -> Reading:
    """The check of a ``GET /api/v1/tables/{id}`` answer, asked for as ``table_id``.

    Raises TableUnavailable (A8) and MalformedAnswer.
    """
    table = _object(table, "the table")
    name = str(table.get("table_name") or table_id)
    state, _ = table_state(table)
    if state is TableState.UNAVAILABLE:
        status = str(table.get("status"))
        why = "is not active" if table.get("is_active") is False else f"is {status}"
        raise TableUnavailable(f"table {name} {why} on the POS", pos_detail=status)
    raw_order = table.get("order")
    order = _object(raw_order, "the table's order") if raw_order is not None else None
    currency = currency_of(order, default_currency)
    if state is TableState.FREE:
        return Reading(PosCheck(table_id, name, None, currency))
    order_id = order_id_of(table, order, _ident(table.get("id", table_id), "id"))
    lines: list[PosLine] = []
    unknown: set[str] = set()
    discounts: tuple[PosDiscount, ...] = ()
    totals = None
    if order is not None:
        items = order.get("order_items")
        items = [] if items is None else items
        if not isinstance(items, list):
            raise MalformedAnswer("order_items must be a list")
        for item in items:
            line, odd = line_of(_object(item, "an order item"), currency)
            lines.append(line)
            if odd is not None:
                unknown.add(odd)
        if len({line.line_id for line in lines}) != len(lines):
            raise MalformedAnswer("two order items share an id")
        totals = totals_of(order, currency)
        if order.get("discount_amount") is not None:
            amount = to_minor(order["discount_amount"], currency, "discount_amount")
            if amount > 0:
                discounts = (PosDiscount(f"{order_id}:discount"[:_MAX_ID], "Discount", amount),)
    check = PosCheck(
        table_id, name, order_id, currency, tuple(lines), discounts=discounts, totals=totals
    )
    return Reading(check, frozenset(unknown))


# -- A10, A11: lists -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TablePage:
    """One page of ``GET /api/v1/tables``: ``(id, table_name)`` pairs."""

    tables: tuple[tuple[str, str], ...]
    total_pages: int


def table_page(body: object) -> TablePage:
    page = _object(body, "the table list")
    rows = page.get("tables")
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise MalformedAnswer("tables must be a list")
    tables = tuple(
        (_ident(row.get("id"), "a table's id"), str(row.get("table_name") or ""))
        for row in (_object(raw, "a table") for raw in rows)
    )
    total = page.get("total_pages")
    if isinstance(total, bool) or not isinstance(total, int | Decimal | type(None)):
        raise MalformedAnswer("total_pages must be an integer")
    return TablePage(tables, int(total or 0))


@dataclass(frozen=True, slots=True)
class Occupied:
    """A table of the occupied list: its name and what tells one occupation from another."""

    table_name: str
    fingerprint: tuple[object, ...]


def occupied_tables(body: object) -> dict[str, Occupied]:
    """The occupied list by table id (A11)."""
    if not isinstance(body, list):
        raise MalformedAnswer("the occupied list must be a JSON array")
    tables: dict[str, Occupied] = {}
    for raw in body:
        row = _object(raw, "an occupied table")
        table_id = _ident(row.get("id"), "a table's id")
        fingerprint = (row.get("order_id"), _canonical(row.get("order")))
        tables[table_id] = Occupied(str(row.get("table_name") or ""), fingerprint)
    return tables


def _canonical(value: object) -> object:
    """A hashable, order-insensitive form of a JSON value (numbers compared as numbers)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_canonical(v) for v in value)
    return value


# -- A12: errors ---------------------------------------------------------------------


def error_of(content: bytes) -> tuple[str | None, str]:
    """``(error, message)`` of an error answer; ``(None, text)`` when it has no such body."""
    try:
        body = loads(content)
    except MalformedAnswer:
        return None, content[:200].decode("utf-8", "replace").strip()
    if isinstance(body, Mapping):
        error, message = body.get("error"), body.get("message")
        return (
            str(error) if error is not None else None,
            str(message) if message is not None else "",
        )
    return None, str(body)[:200]
