"""The mock POS as a pure in-memory state machine: no HTTP, no asyncio.

The HTTP layer (``_server``) parses requests and calls these methods; everything that
decides what the POS does lives here, so the rules can be read (and tested) in one place.

Decisions where the spec is silent:

- ``orderId`` null on ``add_lines`` means "the table's open check, opening one if none";
  a given ``orderId`` must be the open check, otherwise ``ORDER_CLOSED``.
- Checks run in this order: ``DUPLICATE_REF`` (so a retry of an applied call learns it
  was applied, even if the check has closed since), then ``ORDER_CLOSED``, then the
  per-line reasons (422).
- External references are global: one used on any table, open or closed check, or on a
  line voided since, is used for good.
- Per line, the first failing reason wins, in the order ``UNKNOWN_PRODUCT``,
  ``DELISTED``, ``OUT_OF_STOCK``, ``INSUFFICIENT_STOCK``, ``PRICE_CHANGED``. Lines of one
  call draw on the same stock in turn (two lines of 6 with 10 left: the second fails).
- Waiter lines go through the same product and stock checks (not the price one) and
  take stock too. Editing or voiding a line never gives stock back.
- Voiding a line removes the discounts attached to it.
- Editing a closed check (line, discount) answers ``ORDER_CLOSED``.
- ``updatedAt`` strictly increases across the server (microseconds), so two changes
  never share one.
- ``/orders/changes`` lists each changed table once, with its latest change. Cursors
  are ``<instance>-<sequence>``; the instance id is random per state and per reset, and
  only the last ``retained_changes`` changes are kept: any other cursor is unknown (410).
- ``reset`` re-seeds, takes a new instance id and tells listeners (``None``).
- "Closed today": the mock keeps every closed check since its start or last reset.
- A table's ``updatedAt`` (``GET /tables``) is its last change, null until the first.

Not thread-safe: one event loop drives it, and nothing here awaits.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Final

JSON = dict[str, object]

CURRENCY: Final = "PEN"
TABLE_COUNT: Final = 20
RETAINED_CHANGES: Final = 10_000
LINE_STATUSES: Final = frozenset({"PENDING", "PREPARING", "READY", "DELIVERED", "CANCELLED"})

SEED_PRODUCTS: Final[tuple[tuple[str, str, int, int | None], ...]] = (
    ("ceviche", "Ceviche clásico", 3500, None),
    ("lomo-saltado", "Lomo saltado", 4200, None),
    ("aji-gallina", "Ají de gallina", 3200, None),
    ("causa", "Causa limeña", 2200, None),
    ("anticuchos", "Anticuchos", 2800, 10),
    ("chicha", "Chicha morada", 900, None),
    ("inca-kola", "Inca Kola", 700, None),
    ("pisco-sour", "Pisco sour", 1800, None),
    ("suspiro", "Suspiro limeño", 1500, 5),
    ("picarones", "Picarones", 1400, None),
)


def compact_json(body: object) -> str:
    """The POS API's JSON: compact, UTF-8 text as it is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


class MockPosError(Exception):
    """A refusal of the mock POS, with the HTTP status and error body it answers."""

    def __init__(self, status: int, code: str, message: str, lines: Sequence[JSON] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.lines = list(lines)

    def body(self) -> JSON:
        return {"error": self.code, "message": self.message, "lines": self.lines}


class _Missing(Enum):
    MISSING = "MISSING"


MISSING: Final = _Missing.MISSING
"""Marks a field a partial update leaves alone (``None`` is a value: notes cleared)."""


@dataclass(slots=True)
class Product:
    product_id: str
    name: str
    price: int
    available: bool = True
    stock: int | None = None

    def to_json(self) -> JSON:
        return {
            "productId": self.product_id,
            "name": self.name,
            "price": self.price,
            "available": self.available,
            "stock": self.stock,
        }


@dataclass(slots=True)
class Line:
    line_id: str
    product_id: str
    name: str
    quantity: int
    unit_price: int
    created_by: str
    status: str = "PENDING"
    notes: str | None = None
    external_ref: str | None = None

    _encoded: tuple[tuple[object, ...], str] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The line's JSON, with the values of its changeable fields (those ``patch_line``
    sets; the others never change) it was encoded from."""

    def encoded(self) -> str:
        """``compact_json(self.to_json())``, encoded again only once the line changed."""
        changeable = (self.quantity, self.unit_price, self.status, self.notes)
        if self._encoded is None or self._encoded[0] != changeable:
            self._encoded = (changeable, compact_json(self.to_json()))
        return self._encoded[1]

    def to_json(self) -> JSON:
        return {
            "lineId": self.line_id,
            "productId": self.product_id,
            "name": self.name,
            "quantity": self.quantity,
            "unitPrice": self.unit_price,
            "status": self.status,
            "notes": self.notes,
            "modifiers": [],
            "createdBy": self.created_by,
            "externalRef": self.external_ref,
        }


@dataclass(slots=True)
class Discount:
    discount_id: str
    name: str
    amount: int
    line_id: str | None = None

    def to_json(self) -> JSON:
        return {
            "discountId": self.discount_id,
            "name": self.name,
            "amount": self.amount,
            "lineId": self.line_id,
        }


@dataclass(slots=True)
class Order:
    order_id: str
    table_id: str
    updated_at: str
    status: str = "OPEN"
    currency: str = CURRENCY
    lines: list[Line] = field(default_factory=list)
    discounts: list[Discount] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {
            "orderId": self.order_id,
            "tableId": self.table_id,
            "status": self.status,
            "currency": self.currency,
            "lines": [line.to_json() for line in self.lines],
            "discounts": [discount.to_json() for discount in self.discounts],
            "updatedAt": self.updated_at,
        }

    def encoded(self) -> str:
        """``compact_json(self.to_json())``, each line's part encoded once per change of
        it: answering an add costs its new lines, not the check's (``order_json``)."""
        head = compact_json({
            "orderId": self.order_id,
            "tableId": self.table_id,
            "status": self.status,
            "currency": self.currency,
        })
        lines = ",".join([line.encoded() for line in self.lines])
        tail = compact_json({
            "discounts": [discount.to_json() for discount in self.discounts],
            "updatedAt": self.updated_at,
        })
        return f'{head[:-1]},"lines":[{lines}],{tail[1:]}'


@dataclass(slots=True)
class Table:
    table_id: str
    name: str
    open: Order | None = None
    closed: list[Order] = field(default_factory=list)
    updated_at: str | None = None

    def to_json(self) -> JSON:
        return {
            "tableId": self.table_id,
            "name": self.name,
            "orderId": self.open.order_id if self.open else None,
            "updatedAt": self.updated_at,
        }

    def checks(self) -> Iterable[Order]:
        if self.open is not None:
            yield self.open
        yield from self.closed


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log: what ``/orders/changes`` and ``/events`` report."""

    table_id: str
    order_id: str | None
    updated_at: str | None

    def to_json(self) -> JSON:
        return {"tableId": self.table_id, "orderId": self.order_id, "updatedAt": self.updated_at}


@dataclass(frozen=True, slots=True)
class LineRequest:
    """A line to add; ``unit_price`` None for a waiter (the product's price applies)."""

    product_id: str
    quantity: int
    unit_price: int | None = None
    notes: str | None = None
    external_ref: str | None = None


Listener = Callable[[Change | None], None]
"""Called after every change; with None after a reset (the history is gone)."""


def _iso(micros: int) -> str:
    moment = datetime.fromtimestamp(micros / 1_000_000, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _unknown(kind: str, ident: str) -> MockPosError:
    return MockPosError(404, f"{kind.upper()}_NOT_FOUND", f"unknown {kind} {ident!r}")


class MockPosState:
    """Tables, products, checks and the change log of one restaurant."""

    def __init__(self, *, retained_changes: int = RETAINED_CHANGES) -> None:
        self._retained = retained_changes
        self._listeners: list[Listener] = []
        self._seed()

    def _seed(self) -> None:
        self.instance_id = secrets.token_hex(6)
        self._products = {p[0]: Product(p[0], p[1], p[2], stock=p[3]) for p in SEED_PRODUCTS}
        self._tables = {f"T{n}": Table(f"T{n}", f"Mesa {n}") for n in range(1, TABLE_COUNT + 1)}
        self._lines: dict[str, tuple[Line, Order]] = {}
        self._discounts: dict[str, tuple[Discount, Order]] = {}
        self._refs: dict[str, Line] = {}
        self._used_refs: set[str] = set()
        self._counters = {"ln": 0, "ord": 0, "dsc": 0}
        self._last_micros = 0
        self._seq = 0
        self._log: deque[tuple[int, Change]] = deque(maxlen=self._retained)
        self._order_cache: dict[str, bytes] = {}

    # -- listeners -------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def reset(self) -> None:
        """Back to the seed data; every earlier cursor becomes unknown."""
        self._seed()
        for listener in list(self._listeners):
            listener(None)

    # -- reads -----------------------------------------------------------------------

    def products(self) -> list[Product]:
        return list(self._products.values())

    def product(self, product_id: str) -> Product:
        product = self._products.get(product_id)
        if product is None:
            raise _unknown("product", product_id)
        return product

    def tables(self) -> list[Table]:
        return list(self._tables.values())

    def table(self, table_id: str) -> Table:
        table = self._tables.get(table_id)
        if table is None:
            raise _unknown("table", table_id)
        return table

    def order_json(self, table_id: str) -> bytes:
        """The open check as the POS API answers it, encoded once per change (hot path)."""
        cached = self._order_cache.get(table_id)
        if cached is None:
            table = self.table(table_id)
            body = table.open.encoded() if table.open else compact_json(_no_order(table_id))
            cached = self._order_cache[table_id] = body.encode()
        return cached

    def find_lines(self, table_id: str, ref_prefix: str) -> list[Line]:
        """Lines of the table's checks whose external reference starts with the prefix."""
        return [
            line
            for order in self.table(table_id).checks()
            for line in order.lines
            if line.external_ref is not None and line.external_ref.startswith(ref_prefix)
        ]

    @property
    def cursor(self) -> str:
        return f"{self.instance_id}-{self._seq}"

    def changes(self, since: str | None) -> tuple[list[Change], str]:
        """The tables changed after ``since`` (each once, latest change), and the new cursor.

        Without ``since``: every table with an open check.
        """
        if since is None:
            return [_current(t) for t in self._tables.values() if t.open], self.cursor
        after = self._parse_cursor(since)
        seen: set[str] = set()
        found: list[Change] = []
        for seq, change in reversed(self._log):
            if seq <= after:
                break
            if change.table_id not in seen:
                seen.add(change.table_id)
                found.append(change)
        found.reverse()
        return found, self.cursor

    def _parse_cursor(self, cursor: str) -> int:
        instance, _, seq_text = cursor.rpartition("-")
        oldest = self._log[0][0] if self._log else self._seq + 1
        if instance == self.instance_id and seq_text.isdigit():
            seq = int(seq_text)
            if oldest - 1 <= seq <= self._seq:
                return seq
        raise MockPosError(410, "CURSOR_EXPIRED", f"unknown change cursor {cursor!r}")

    # -- the POS API's one write -----------------------------------------------------

    def add_lines(self, table_id: str, order_id: str | None, lines: Sequence[LineRequest]) -> Order:
        """Add integration lines, all or nothing (see the module docstring for the rules)."""
        table = self.table(table_id)
        self._check_refs(lines)
        if order_id is not None and (table.open is None or table.open.order_id != order_id):
            raise MockPosError(
                409, "ORDER_CLOSED", f"order {order_id!r} is not the open check of {table_id}"
            )
        return self._apply(table, lines, created_by="integration", check_price=True)

    def _check_refs(self, lines: Sequence[LineRequest]) -> None:
        refs = [line.external_ref for line in lines if line.external_ref is not None]
        if len(set(refs)) != len(refs):
            raise MockPosError(400, "INVALID_REQUEST", "an externalRef is repeated in the call")
        used = [ref for ref in refs if ref in self._used_refs]
        if used:
            existing = [self._refs[ref].to_json() for ref in used if ref in self._refs]
            raise MockPosError(
                409, "DUPLICATE_REF", f"externalRef already used: {', '.join(used)}", existing
            )

    def _apply(
        self, table: Table, lines: Sequence[LineRequest], *, created_by: str, check_price: bool
    ) -> Order:
        products = self._validate(lines, check_price=check_price)
        order = table.open or self._open(table)
        for request, product in zip(lines, products, strict=True):
            if product.stock is not None:
                product.stock -= request.quantity
            line = self._new_line(request, product, created_by)
            order.lines.append(line)
            self._lines[line.line_id] = (line, order)
            if line.external_ref is not None:
                self._refs[line.external_ref] = line
                self._used_refs.add(line.external_ref)
        self._touch(table, order)
        return order

    def _open(self, table: Table) -> Order:
        table.open = Order(self._next_id("ord"), table.table_id, updated_at="")
        return table.open

    def _new_line(self, request: LineRequest, product: Product, created_by: str) -> Line:
        price = product.price if request.unit_price is None else request.unit_price
        line = Line(
            self._next_id("ln"),
            product.product_id,
            product.name,
            request.quantity,
            price,
            created_by,
            notes=request.notes,
            external_ref=request.external_ref,
        )
        return line

    def _validate(self, lines: Sequence[LineRequest], *, check_price: bool) -> list[Product]:
        """The product of every line, or 422 naming each failing line."""
        if not lines:
            raise MockPosError(400, "INVALID_REQUEST", "no lines")
        left: dict[str, int] = {}
        failures = [
            failure
            for index, request in enumerate(lines)
            if (failure := self._line_failure(index, request, left, check_price)) is not None
        ]
        if failures:
            raise MockPosError(
                422, "ITEMS_REJECTED", f"{len(failures)} of {len(lines)} lines refused", failures
            )
        return [self._products[request.product_id] for request in lines]

    def _line_failure(
        self, index: int, request: LineRequest, left: dict[str, int], check_price: bool
    ) -> JSON | None:
        product = self._products.get(request.product_id)
        if product is None:
            return _failure(index, request, "UNKNOWN_PRODUCT")
        if not product.available:
            return _failure(index, request, "DELISTED")
        if product.stock == 0:
            return _failure(index, request, "OUT_OF_STOCK", available=0)
        remaining = left.get(product.product_id, product.stock)
        if remaining is not None and request.quantity > remaining:
            return _failure(index, request, "INSUFFICIENT_STOCK", available=remaining)
        if check_price and request.unit_price != product.price:
            return _failure(index, request, "PRICE_CHANGED", current_price=product.price)
        if remaining is not None:
            left[product.product_id] = remaining - request.quantity
        return None

    # -- the control API (the restaurant) --------------------------------------------

    def add_waiter_lines(self, table_id: str, lines: Sequence[LineRequest]) -> Order:
        """A waiter adds lines at the product's price, opening a check if none."""
        waiter_lines = [
            LineRequest(line.product_id, line.quantity, notes=line.notes) for line in lines
        ]
        return self._apply(
            self.table(table_id), waiter_lines, created_by="waiter", check_price=False
        )

    def patch_line(
        self,
        line_id: str,
        *,
        status: str | _Missing = MISSING,
        quantity: int | _Missing = MISSING,
        unit_price: int | _Missing = MISSING,
        notes: str | _Missing | None = MISSING,
    ) -> Line:
        line, order = self._open_line(line_id)
        if status is not MISSING:
            line.status = status
        if quantity is not MISSING:
            line.quantity = quantity
        if unit_price is not MISSING:
            line.unit_price = unit_price
        if notes is not MISSING:
            line.notes = notes
        self._touch(self._tables[order.table_id], order)
        return line

    def delete_line(self, line_id: str) -> None:
        """Void a line, and the discounts attached to it."""
        line, order = self._open_line(line_id)
        order.lines.remove(line)
        del self._lines[line_id]
        if line.external_ref is not None:
            self._refs.pop(line.external_ref, None)
        for discount in [d for d in order.discounts if d.line_id == line_id]:
            order.discounts.remove(discount)
            del self._discounts[discount.discount_id]
        self._touch(self._tables[order.table_id], order)

    def add_discount(self, table_id: str, name: str, amount: int, line_id: str | None) -> Discount:
        table = self.table(table_id)
        order = table.open
        if order is None:
            raise MockPosError(409, "ORDER_CLOSED", f"table {table_id} has no open check")
        if line_id is not None and all(line.line_id != line_id for line in order.lines):
            raise MockPosError(
                404, "LINE_NOT_FOUND", f"line {line_id!r} is not on the open check of {table_id}"
            )
        discount = Discount(self._next_id("dsc"), name, amount, line_id)
        order.discounts.append(discount)
        self._discounts[discount.discount_id] = (discount, order)
        self._touch(table, order)
        return discount

    def delete_discount(self, discount_id: str) -> None:
        found = self._discounts.get(discount_id)
        if found is None:
            raise _unknown("discount", discount_id)
        discount, order = found
        _require_open(order)
        order.discounts.remove(discount)
        del self._discounts[discount_id]
        self._touch(self._tables[order.table_id], order)

    def close_table(self, table_id: str) -> Order:
        """Close (pay) the open check; the table is free again."""
        table = self.table(table_id)
        order = table.open
        if order is None:
            raise MockPosError(409, "ORDER_CLOSED", f"table {table_id} has no open check")
        order.status = "CLOSED"
        table.open = None
        table.closed.append(order)
        self._touch(table, order)
        return order

    def set_product(
        self,
        product_id: str,
        *,
        price: int | _Missing = MISSING,
        available: bool | _Missing = MISSING,
        stock: int | _Missing | None = MISSING,
    ) -> Product:
        product = self.product(product_id)
        if price is not MISSING:
            product.price = price
        if available is not MISSING:
            product.available = available
        if stock is not MISSING:
            product.stock = stock
        return product

    # -- bookkeeping -----------------------------------------------------------------

    def _open_line(self, line_id: str) -> tuple[Line, Order]:
        found = self._lines.get(line_id)
        if found is None:
            raise _unknown("line", line_id)
        _require_open(found[1])
        return found

    def _next_id(self, kind: str) -> str:
        self._counters[kind] += 1
        return f"{kind}-{self._counters[kind]}"

    def _now(self) -> str:
        self._last_micros = max(time.time_ns() // 1000, self._last_micros + 1)
        return _iso(self._last_micros)

    def _touch(self, table: Table, order: Order) -> None:
        """Record a change of ``order``: bump updatedAt, log it, tell the listeners."""
        order.updated_at = table.updated_at = self._now()
        self._order_cache.pop(table.table_id, None)
        self._seq += 1
        change = Change(table.table_id, order.order_id, order.updated_at)
        self._log.append((self._seq, change))
        for listener in list(self._listeners):
            listener(change)


def _no_order(table_id: str) -> JSON:
    return {"orderId": None, "tableId": table_id, "lines": [], "discounts": []}


def _current(table: Table) -> Change:
    order = table.open
    return Change(table.table_id, order.order_id if order else None, table.updated_at)


def _require_open(order: Order) -> None:
    if order.status != "OPEN":
        raise MockPosError(409, "ORDER_CLOSED", f"order {order.order_id!r} is closed")


def _failure(
    index: int,
    request: LineRequest,
    code: str,
    *,
    available: int | None = None,
    current_price: int | None = None,
) -> JSON:
    return {
        "index": index,
        "productId": request.product_id,
        "error": code,
        "available": available,
        "currentPrice": current_price,
    }
