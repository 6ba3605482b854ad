"""RestAI's rows and errors, turned into the driver-side models and errors.

- Line status: ``pending``/``preparing``/``ready``/``served``/``cancelled`` ->
  PENDING/PREPARING/READY/DELIVERED/CANCELLED. A cancelled line keeps its row on RestAI
  and is reported CANCELLED; a cancelled *order* is not part of the check at all.
- A line's ``unit_price`` is RestAI's base price (modifiers excluded), as the contract
  wants. RestAI does not return modifier ids on order lines (only name and price), so a
  modifier's ``modifier_id`` is its name.
- The check is the visit (RestAI table session): every order of the table's live
  session, oldest first, lines in RestAI's order. Totals are RestAI's own (tax on top of
  prices), summed over the non-cancelled orders; each of their discounts is one
  whole-check discount. A cancelled order adds no money but its lines stay on the check
  as CANCELLED: RestAI cancels an order by itself when the kitchen cancels its last
  line, and that line must read as cancelled, not as gone.
- The check is closed when the table has no live session, or when every non-cancelled
  order of the visit is ``completed`` (paying alone leaves RestAI orders open). A
  pending session (a QR diner waiting for approval) with no order is not a check yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pos_drivers._errors import (
    ItemReason,
    ItemRejection,
    ItemsRejected,
    OrderClosed,
    PosBusinessError,
    PosError,
    PosUnavailable,
    TableNotFound,
)
from pos_drivers._models import (
    LineStatus,
    NewLine,
    PosCheck,
    PosDiscount,
    PosLine,
    PosModifier,
    PosTotals,
)
from pos_drivers.restai._client import RestaiApiError
from pos_drivers.restai._markers import order_prefix, read_line
from pos_drivers.restai._tables import TableInfo

Row = Mapping[str, Any]

LINE_STATUS: Mapping[str, LineStatus] = {
    "pending": LineStatus.PENDING,
    "preparing": LineStatus.PREPARING,
    "ready": LineStatus.READY,
    "served": LineStatus.DELIVERED,
    "cancelled": LineStatus.CANCELLED,
}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def recognised_prefix(order: Row, user_id: str | None) -> str | None:
    """The reference prefix of an order this integration created, else None."""
    if user_id is None or order.get("created_by") != user_id:
        return None
    return order_prefix(order.get("notes"))


def line_from_item(item: Row, prefix: str | None) -> PosLine:
    """One RestAI ``order_items`` row (with its ``modifiers``) as a PosLine."""
    if prefix is not None:
        mark = read_line(item.get("notes"))
        notes = mark.notes
        ref = None if mark.rest is None else prefix + mark.rest
    else:
        raw = item.get("notes")
        notes = raw if isinstance(raw, str) and raw else None
        ref = None
    modifiers = tuple(
        PosModifier(
            modifier_id=str(mod.get("name", "")),
            name=str(mod.get("name", "")),
            quantity=1,
            unit_price=_int(mod.get("price")),
        )
        for mod in item.get("modifiers") or ()
        if isinstance(mod, Mapping)
    )
    return PosLine(
        line_id=str(item["id"]),
        product_id=str(item.get("menu_item_id") or ""),
        name=str(item.get("name") or ""),
        quantity=_int(item.get("quantity")),
        unit_price=_int(item.get("unit_price")),
        status=LINE_STATUS.get(str(item.get("status")), LineStatus.PENDING),
        notes=notes,
        modifiers=modifiers,
        external_ref=ref,
    )


def order_sort_key(order: Row) -> tuple[str, str]:
    return (str(order.get("created_at") or ""), str(order.get("id")))


def lines_of(orders: Iterable[Row], user_id: str | None) -> tuple[PosLine, ...]:
    """Every line of ``orders`` in RestAI's order; a reference seen twice is kept once.

    A repeated reference can only come from notes copied by hand; the first line (the
    oldest order) keeps it, so that the adapter never sees two lines claim one lineId.
    """
    seen: set[str] = set()
    lines: list[PosLine] = []
    for order in sorted(orders, key=order_sort_key):
        prefix = recognised_prefix(order, user_id)
        for item in order.get("items") or ():
            line = line_from_item(item, prefix)
            ref = line.external_ref
            if ref is not None:
                if ref in seen:
                    line = _without_ref(line)
                else:
                    seen.add(ref)
            lines.append(line)
    return tuple(lines)


def _without_ref(line: PosLine) -> PosLine:
    return PosLine(
        line_id=line.line_id,
        product_id=line.product_id,
        name=line.name,
        quantity=line.quantity,
        unit_price=line.unit_price,
        status=line.status,
        notes=line.notes,
        modifiers=line.modifiers,
        external_ref=None,
    )


def open_visit_id(session: Row | None, orders: Sequence[Row]) -> str | None:
    """The visit that is the table's open check, or None (see the module docstring)."""
    if session is None:
        return None
    live = [order for order in orders if order.get("status") != "cancelled"]
    if live and all(order.get("status") == "completed" for order in live):
        return None
    if not live and session.get("status") != "active":
        return None
    return str(session["id"])


def build_check(
    alias: str,
    table: TableInfo,
    visit_id: str | None,
    orders: Sequence[Row],
    currency: str,
    user_id: str | None,
) -> PosCheck:
    """The PosCheck of ``table`` from the full orders (``GET /api/orders/:id``) of a visit."""
    if visit_id is None:
        return PosCheck(table_id=alias, table_name=table.name, order_id=None, currency=currency)
    every = sorted(orders, key=order_sort_key)
    live = [o for o in every if o.get("status") != "cancelled"]
    discounts = tuple(
        PosDiscount(
            discount_id=f"{order['id']}:discount",
            name=f"Descuento {order.get('order_number') or ''}".strip(),
            amount=_int(order.get("discount")),
        )
        for order in live
        if _int(order.get("discount")) > 0
    )
    totals = PosTotals(
        subtotal=sum(_int(o.get("subtotal")) for o in live),
        discount_total=sum(_int(o.get("discount")) for o in live),
        tax_total=sum(_int(o.get("tax")) for o in live),
        total=sum(_int(o.get("total")) for o in live),
    )
    return PosCheck(
        table_id=alias,
        table_name=table.name,
        order_id=visit_id,
        currency=currency,
        lines=lines_of(every, user_id),
        discounts=discounts,
        totals=totals,
    )


def api_error(exc: RestaiApiError) -> PosError:
    """A RestAI refusal with no better mapping in its context."""
    if exc.status == 409:
        return OrderClosed("RestAI says the check is closed", pos_detail=exc.detail)
    if exc.status in (401, 403):
        return PosUnavailable(
            "the RestAI account lacks a permission or access to the branch",
            pos_detail=exc.detail,
        )
    if exc.status == 404 and "mesa" in exc.message.lower():
        return TableNotFound("RestAI has no such table in this branch", pos_detail=exc.detail)
    return PosBusinessError(f"RestAI refused the request: {exc.message}", pos_detail=exc.detail)


_ITEM_RULES: tuple[tuple[re.Pattern[str], ItemReason, str], ...] = (
    (re.compile(r"^Item no disponible: (?P<item>.+)$", re.S), ItemReason.DELISTED, "item"),
    (re.compile(r"^Item no encontrado: (?P<id>.+)$", re.S), ItemReason.UNKNOWN_PRODUCT, "id"),
    (
        re.compile(r"^Modificador no encontrado: (?P<mod_id>.+)$", re.S),
        ItemReason.UNKNOWN_PRODUCT,
        "mod_id",
    ),
    (
        re.compile(r"^Modificador no disponible: (?P<mod>.+)$", re.S),
        ItemReason.DELISTED,
        "mod",
    ),
    (
        re.compile(r'^Modificador inválido para "(?P<item>.+)": (?P<mod>.+)$', re.S),
        ItemReason.UNKNOWN_PRODUCT,
        "item_mod",
    ),
    (
        re.compile(r'^Selección insuficiente de modificadores para "(?P<item>.+)"$', re.S),
        ItemReason.UNKNOWN_PRODUCT,
        "item",
    ),
    (
        re.compile(r'^Demasiados modificadores seleccionados para "(?P<item>.+)"$', re.S),
        ItemReason.UNKNOWN_PRODUCT,
        "item",
    ),
)


def submission_error(
    exc: RestaiApiError,
    lines: Sequence[NewLine],
    product_name: Callable[[str], str | None],
    modifier_name: Callable[[str], str | None],
) -> PosError:
    """A refusal of ``POST /api/orders``, pinned to the lines it is about when possible.

    RestAI validates the lines one by one and stops at the first bad one, naming the
    dish (or modifier) by its menu name or id: the lines that match are rejected, with
    RestAI's message as ``posDetail``; nothing was applied.
    """
    if exc.status == 400 and exc.code != "ZodError":
        for pattern, reason, key in _ITEM_RULES:
            found = pattern.match(exc.message)
            if found is None:
                continue
            indices = _matching_lines(found.groupdict(), key, lines, product_name, modifier_name)
            if indices:
                return ItemsRejected(
                    f"RestAI refused {len(indices)} item(s): {exc.message}",
                    rejections=tuple(
                        ItemRejection(
                            index=i, reason=reason, message=exc.message, pos_detail=exc.detail
                        )
                        for i in indices
                    ),
                    pos_detail=exc.detail,
                )
    return api_error(exc)


def _matching_lines(
    groups: Mapping[str, str],
    key: str,
    lines: Sequence[NewLine],
    product_name: Callable[[str], str | None],
    modifier_name: Callable[[str], str | None],
) -> list[int]:
    def named(line: NewLine) -> bool:
        return product_name(line.product_id) == groups.get("item")

    def has_modifier_named(line: NewLine) -> bool:
        return any(modifier_name(m) == groups.get("mod") for m in line.modifier_ids)

    tests: Mapping[str, Callable[[NewLine], bool]] = {
        "item": named,
        "id": lambda line: line.product_id == groups.get("id"),
        "mod_id": lambda line: groups.get("mod_id") in line.modifier_ids,
        "mod": has_modifier_named,
        "item_mod": lambda line: named(line) and bool(line.modifier_ids),
    }
    test = tests[key]
    return [i for i, line in enumerate(lines) if test(line)]
