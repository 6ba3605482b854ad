"""The imitated Table Management POS as an in-memory state machine: no HTTP, no asyncio.

Built from the API's document and the driver's assumptions (``_mapping``): the HTTP
layer (``_imitation``) parses requests and calls these methods, so every rule can be read
in one place. Decisions where the document is silent:

- Ordering: lists are in creation order; ``limit`` above 100 is clamped to 100;
  ``total_pages`` is ``ceil(total_count / limit)`` (0 for no table).
- ``PUT /tables/{id}`` may not move a table into or out of ``occupied`` (that is what
  occupy and release are for): 400.
- Occupy takes an ``order_id`` of an order made elsewhere; an id the imitation does not
  know gets an empty order. Inactive tables cannot be occupied. Release sets the table
  ``available``, records ``payment_amount`` and completes the order.
- Orders (the assumed OrderResponse): totals with a 10 % tax on top
  (``tax_amount = subtotal x 0.10``, half up to 0.01); cancelled items count for
  nothing. Each order writes its money as decimal strings (``"45000.00"``) or as JSON
  numbers (``45000.0``) per its ``money_format``; the server's default is
  ``"string"``. An order may leave out its currency, its totals, or be left out of the
  table answers (``embedded: false``), to exercise the driver's fallbacks.
- Item statuses are free text on the control API (an unknown one exercises the
  driver's warning); the POS API never changes them.

Not thread-safe: one event loop drives it, and nothing here awaits.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, Literal

JSON = dict[str, Any]
MoneyFormat = Literal["string", "number"]

_NS: Final = uuid.UUID("7d8c1a6e-3b52-4f0e-9a41-2c6f0b9e5d13")

SEED_ORGANIZATION_ID: Final = str(uuid.uuid5(_NS, "organization"))
SEED_OUTLET_ID: Final = str(uuid.uuid5(_NS, "outlet-1"))
"""The outlet with the seed tables ``Table 1`` .. ``Table 25``."""
OTHER_OUTLET_ID: Final = str(uuid.uuid5(_NS, "outlet-2"))
"""A second outlet whose tables reuse names of the first (names are unique per outlet)."""
SEED_TABLE_COUNT: Final = 25
OTHER_OUTLET_TABLE_COUNT: Final = 3
CURRENCY: Final = "IDR"
TAX_RATE: Final = Decimal("0.10")

SEED_PRODUCTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("nasi-goreng", "Nasi Goreng Spesial", "45000.00"),
    ("mie-goreng", "Mie Goreng", "38000.00"),
    ("sate-ayam", "Sate Ayam", "52500.00"),
    ("soto-betawi", "Soto Betawi", "41000.00"),
    ("es-teh", "Es Teh Manis", "8000.00"),
    ("kopi-susu", "Es Kopi Susu", "22500.50"),
)

TABLE_STATUSES: Final = frozenset({"available", "occupied", "reserved", "cleaning", "maintenance"})
MONEY_FORMATS: Final = frozenset({"string", "number"})
_CENT: Final = Decimal("0.01")


class ImitationError(Exception):
    """A refusal, with the HTTP status and the documented ``{"error", "message"}`` body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> JSON:
        return {"error": self.error, "message": self.message}


def invalid(message: str, error: str = "Invalid request") -> ImitationError:
    return ImitationError(400, error, message)


def table_not_found() -> ImitationError:
    return ImitationError(404, "Table not found", "Table with specified ID does not exist")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def decimal_value(value: object, what: str) -> Decimal:
    """A request's "decimal": a JSON number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise invalid(f"{what} must be a decimal")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(f"{what} must be a decimal") from None
    if not number.is_finite():
        raise invalid(f"{what} must be a decimal")
    return number


@dataclass(slots=True)
class Product:
    product_id: str
    name: str
    price: Decimal


@dataclass(slots=True)
class OrderItem:
    id: str
    product_id: str
    product_name: str
    quantity: int
    unit_price: Decimal
    status: str = "pending"
    notes: str | None = None

    @property
    def total_price(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(slots=True)
class Order:
    id: str
    order_number: str
    created_at: str
    currency: str | None = CURRENCY
    status: str = "open"
    items: list[OrderItem] = field(default_factory=list)
    discount_amount: Decimal = Decimal(0)
    money_format: MoneyFormat = "string"
    with_totals: bool = True
    embedded: bool = True
    updated_at: str = ""

    def subtotal(self) -> Decimal:
        return sum((i.total_price for i in self.items if i.status != "cancelled"), Decimal(0))

    def tax(self) -> Decimal:
        return (self.subtotal() * TAX_RATE).quantize(_CENT, rounding=ROUND_HALF_UP)

    def total(self) -> Decimal:
        return max(Decimal(0), self.subtotal() - self.discount_amount + self.tax())

    def money(self, value: Decimal) -> str | float:
        """As this order writes money: ``"45000.00"``, or the JSON number ``45000.0``."""
        exact = value.quantize(_CENT, rounding=ROUND_HALF_UP)
        return str(exact) if self.money_format == "string" else float(exact)

    def to_json(self) -> JSON:
        body: JSON = {"id": self.id, "order_number": self.order_number, "status": self.status}
        if self.currency is not None:
            body["currency"] = self.currency
        if self.with_totals:
            body |= {
                "subtotal": self.money(self.subtotal()),
                "tax_amount": self.money(self.tax()),
                "discount_amount": self.money(self.discount_amount),
                "total_amount": self.money(self.total()),
            }
        body["order_items"] = [self.item_json(item) for item in self.items]
        body |= {"created_at": self.created_at, "updated_at": self.updated_at}
        return body

    def item_json(self, item: OrderItem) -> JSON:
        body: JSON = {
            "id": item.id,
            "product_id": item.product_id,
            "product_name": item.product_name,
            "quantity": item.quantity,
            "unit_price": self.money(item.unit_price),
            "total_price": self.money(item.total_price),
            "status": item.status,
        }
        if item.notes is not None:
            body["notes"] = item.notes
        return body


@dataclass(slots=True)
class Table:
    id: str
    organization_id: str
    outlet_id: str
    table_name: str
    capacity: int
    position_x: Decimal
    position_y: Decimal
    created_at: str
    updated_at: str
    status: str = "available"
    is_active: bool = True
    metadata: JSON = field(default_factory=dict)
    start_time: str | None = None
    order_id: str | None = None
    payment_amount: Decimal = Decimal(0)

    def list_json(self) -> JSON:
        """A ``GET /tables`` item: only the documented fields."""
        return {
            "id": self.id,
            "table_name": self.table_name,
            "status": self.status,
            "capacity": self.capacity,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class TableMgmtState:
    """Outlets' tables, their orders and the products of one imitated POS."""

    def __init__(self, *, money_format: MoneyFormat = "string") -> None:
        if money_format not in MONEY_FORMATS:
            raise ValueError(f"money_format must be one of {sorted(MONEY_FORMATS)}")
        self.money_format: MoneyFormat = money_format
        self._seed()

    def _seed(self) -> None:
        self.products = {p[0]: Product(p[0], p[1], Decimal(p[2])) for p in SEED_PRODUCTS}
        self.tables: dict[str, Table] = {}
        self.orders: dict[str, Order] = {}
        self._items: dict[str, tuple[OrderItem, Order]] = {}
        self._order_numbers = 0
        self._last_micros = 0
        for outlet, count in ((SEED_OUTLET_ID, SEED_TABLE_COUNT),
                              (OTHER_OUTLET_ID, OTHER_OUTLET_TABLE_COUNT)):
            for n in range(1, count + 1):
                self._add_table(
                    outlet, f"Table {n}", capacity=2 + n % 5,
                    position_x=Decimal(100 * ((n - 1) % 5)),
                    position_y=Decimal(120 * ((n - 1) // 5)),
                    table_id=str(uuid.uuid5(_NS, f"{outlet}/table-{n}")),
                )

    def reset(self) -> None:
        """Back to the seed data."""
        self._seed()

    def _stamp(self) -> str:
        """A timestamp that strictly increases across the server."""
        self._last_micros = max(time.time_ns() // 1000, self._last_micros + 1)
        moment = datetime.fromtimestamp(self._last_micros / 1_000_000, UTC)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    # -- reads ---------------------------------------------------------------------

    def table(self, table_id: str) -> Table:
        table = self.tables.get(table_id)
        if table is None:
            raise table_not_found()
        return table

    def embedded_order(self, table: Table) -> Order | None:
        order = self.orders.get(table.order_id) if table.order_id else None
        return order if order is not None and order.embedded else None

    def table_json(self, table: Table) -> JSON:
        """``GET /tables/{id}``: the table entity, with its order while occupied."""
        body: JSON = {
            "id": table.id,
            "organization_id": table.organization_id,
            "outlet_id": table.outlet_id,
            "table_name": table.table_name,
        }
        if table.start_time is not None:
            body["start_time"] = table.start_time
        body["status"] = table.status
        if table.order_id is not None:
            body["order_id"] = table.order_id
        body |= {
            "payment_amount": str(table.payment_amount.quantize(_CENT)),
            "position_x": float(table.position_x),
            "position_y": float(table.position_y),
            "capacity": table.capacity,
            "is_active": table.is_active,
            "metadata": table.metadata,
            "created_at": table.created_at,
            "updated_at": table.updated_at,
        }
        order = self.embedded_order(table)
        if order is not None:
            body["order"] = order.to_json()
        return body

    def created_json(self, table: Table) -> JSON:
        """``POST /tables``: the documented 201 answer."""
        body = self.table_json(table)
        for key in ("start_time", "order_id", "payment_amount", "order"):
            body.pop(key, None)
        return body

    def list_tables(
        self,
        *,
        organization_id: str | None = None,
        outlet_id: str | None = None,
        status: str | None = None,
        is_active: bool | None = None,
        search: str | None = None,
        page: int = 1,
        limit: int = 10,
    ) -> JSON:
        if status is not None and status not in TABLE_STATUSES:
            raise invalid(f"status must be one of {', '.join(sorted(TABLE_STATUSES))}")
        if page < 1 or limit < 1:
            raise invalid("page and limit must be at least 1")
        limit = min(limit, 100)
        needle = search.casefold() if search else None
        found = [
            t for t in self.tables.values()
            if (organization_id is None or t.organization_id == organization_id)
            and (outlet_id is None or t.outlet_id == outlet_id)
            and (status is None or t.status == status)
            and (is_active is None or t.is_active == is_active)
            and (needle is None or needle in t.table_name.casefold())
        ]
        start = (page - 1) * limit
        return {
            "tables": [t.list_json() for t in found[start : start + limit]],
            "total_count": len(found),
            "page": page,
            "limit": limit,
            "total_pages": math.ceil(len(found) / limit),
        }

    def available(self, outlet_id: str) -> list[JSON]:
        return [
            {
                "id": t.id,
                "table_name": t.table_name,
                "status": t.status,
                "capacity": t.capacity,
                "position_x": float(t.position_x),
                "position_y": float(t.position_y),
            }
            for t in self.tables.values()
            if t.outlet_id == outlet_id and t.status == "available" and t.is_active
        ]

    def occupied(self, outlet_id: str) -> list[JSON]:
        found: list[JSON] = []
        for t in self.tables.values():
            if t.outlet_id != outlet_id or t.status != "occupied":
                continue
            entry: JSON = {
                "id": t.id,
                "table_name": t.table_name,
                "status": t.status,
                "start_time": t.start_time,
                "order_id": t.order_id,
                "capacity": t.capacity,
                "position_x": float(t.position_x),
                "position_y": float(t.position_y),
            }
            order = self.embedded_order(t)
            if order is not None:
                entry["order"] = order.to_json()
            found.append(entry)
        return found

    # -- the POS API's writes ------------------------------------------------------

    def _add_table(
        self,
        outlet_id: str,
        name: str,
        *,
        capacity: int,
        position_x: Decimal,
        position_y: Decimal,
        metadata: JSON | None = None,
        table_id: str | None = None,
    ) -> Table:
        self._check_name(outlet_id, name, None)
        _check_capacity(capacity)
        now = self._stamp()
        table = Table(
            id=table_id or str(uuid.uuid4()),
            organization_id=SEED_ORGANIZATION_ID,
            outlet_id=outlet_id,
            table_name=name,
            capacity=capacity,
            position_x=position_x,
            position_y=position_y,
            created_at=now,
            updated_at=now,
            metadata=dict(metadata or {}),
        )
        self.tables[table.id] = table
        return table

    def create_table(
        self,
        outlet_id: str,
        name: str,
        *,
        capacity: int,
        position_x: Decimal = Decimal(0),
        position_y: Decimal = Decimal(0),
        metadata: JSON | None = None,
    ) -> Table:
        return self._add_table(outlet_id, name, capacity=capacity, position_x=position_x,
                               position_y=position_y, metadata=metadata)

    def update_table(self, table_id: str, changes: Mapping[str, Any]) -> Table:
        """``PUT /tables/{id}`` with already-typed ``changes``."""
        table = self.table(table_id)
        status = changes.get("status")
        if status is not None and status != table.status and "occupied" in (status, table.status):
            raise invalid("use occupy and release to move a table into or out of occupied")
        if "table_name" in changes:
            self._check_name(table.outlet_id, changes["table_name"], table.id)
        if "capacity" in changes:
            _check_capacity(changes["capacity"])
        for key, value in changes.items():
            setattr(table, key, value)
        table.updated_at = self._stamp()
        return table

    def delete_table(self, table_id: str) -> None:
        table = self.table(table_id)
        if table.status == "occupied":
            raise invalid("Cannot delete an occupied table", "Failed to delete table")
        del self.tables[table_id]

    def occupy(self, table_id: str, order_id: str, start_time: str | None = None) -> Table:
        table = self.table(table_id)
        if table.status not in ("available", "cleaning") or not table.is_active:
            raise invalid(
                f"Table is {table.status if table.is_active else 'inactive'}; only available "
                "or cleaning tables can be occupied",
                "Failed to occupy table",
            )
        if order_id not in self.orders:
            self.orders[order_id] = self._new_order(order_id)
        table.status, table.order_id = "occupied", order_id
        table.start_time = start_time or _now()
        table.updated_at = self._stamp()
        return table

    def release(self, table_id: str, payment_amount: Decimal) -> Table:
        table = self.table(table_id)
        if table.status != "occupied":
            raise invalid("Only occupied tables can be released", "Failed to release table")
        order = self.orders.get(table.order_id or "")
        if order is not None:
            order.status, order.updated_at = "completed", self._stamp()
        table.status, table.order_id, table.start_time = "available", None, None
        table.payment_amount = payment_amount
        table.updated_at = self._stamp()
        return table

    def _check_name(self, outlet_id: str, name: str, table_id: str | None) -> None:
        if not name.strip():
            raise invalid("table_name must not be empty")
        for other in self.tables.values():
            if other.outlet_id == outlet_id and other.table_name == name and other.id != table_id:
                raise invalid(f"Table name {name!r} already exists in this outlet",
                              "Table name already exists")

    # -- the control API: the restaurant -------------------------------------------

    def _new_order(self, order_id: str | None = None) -> Order:
        self._order_numbers += 1
        now = self._stamp()
        return Order(
            id=order_id or str(uuid.uuid4()),
            order_number=f"ORD-{self._order_numbers:05d}",
            created_at=now,
            updated_at=now,
            money_format=self.money_format,
        )

    def open_order(self, table_id: str, items: Iterable[Mapping[str, Any]] = ()) -> Order:
        """A waiter seats guests: a new order with ``items``, and the table occupied."""
        order = self._new_order()
        self.orders[order.id] = order
        self.occupy(table_id, order.id)
        for item in items:
            self.add_item(table_id, **item)
        return order

    def open_order_of(self, table_id: str) -> Order:
        table = self.table(table_id)
        order = self.orders.get(table.order_id or "")
        if table.status != "occupied" or order is None:
            raise invalid(f"table {table.table_name} has no open order", "No open order")
        return order

    def add_item(
        self,
        table_id: str,
        product_id: str,
        quantity: int = 1,
        notes: str | None = None,
        unit_price: Decimal | None = None,
        status: str = "pending",
    ) -> OrderItem:
        order = self.open_order_of(table_id)
        product = self.products.get(product_id)
        if product is None:
            raise ImitationError(404, "Product not found", f"no product {product_id!r}")
        if quantity < 1:
            raise invalid("quantity must be at least 1")
        item = OrderItem(
            id=str(uuid.uuid4()),
            product_id=product.product_id,
            product_name=product.name,
            quantity=quantity,
            unit_price=product.price if unit_price is None else unit_price,
            status=status,
            notes=notes,
        )
        order.items.append(item)
        self._items[item.id] = (item, order)
        self._touch(order)
        return item

    def update_item(self, item_id: str, changes: Mapping[str, Any]) -> OrderItem:
        """Change an item's ``status`` (any text), ``quantity`` or ``notes``."""
        item, order = self.item(item_id)
        for key, value in changes.items():
            setattr(item, key, value)
        self._touch(order)
        return item

    def delete_item(self, item_id: str) -> None:
        item, order = self.item(item_id)
        order.items.remove(item)
        del self._items[item_id]
        self._touch(order)

    def update_order(self, table_id: str, changes: Mapping[str, Any]) -> Order:
        """Change the open order's ``discount_amount``, ``currency`` (None: left out),
        ``money_format``, ``with_totals`` or ``embedded``."""
        order = self.open_order_of(table_id)
        for key, value in changes.items():
            setattr(order, key, value)
        self._touch(order)
        return order

    def set_table(self, table_id: str, changes: Mapping[str, Any]) -> Table:
        """Set ``status``, ``is_active`` or ``table_name`` as the POS's back office would,
        without the API's rules (a table released this way loses its order link)."""
        table = self.table(table_id)
        if "table_name" in changes:
            self._check_name(table.outlet_id, changes["table_name"], table.id)
        for key, value in changes.items():
            setattr(table, key, value)
        if table.status != "occupied":
            table.order_id = table.start_time = None
        table.updated_at = self._stamp()
        return table

    def item(self, item_id: str) -> tuple[OrderItem, Order]:
        found = self._items.get(item_id)
        if found is None:
            raise ImitationError(404, "Item not found", f"no order item {item_id!r}")
        return found

    def _touch(self, order: Order) -> None:
        order.updated_at = self._stamp()


def _check_capacity(capacity: int) -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 20:
        raise invalid("capacity must be between 1 and 20")
