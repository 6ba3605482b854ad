"""Small builders shared by the RestAI driver tests."""

from __future__ import annotations

from typing import Any

from pos_drivers import NewLine
from tests.restai.fake_restai import FakeRestai


def line(
    fake: FakeRestai,
    name: str,
    quantity: int = 1,
    *,
    ref: str | None = None,
    notes: str | None = None,
    price: int | None = None,
    modifiers: tuple[str, ...] = (),
) -> NewLine:
    """A NewLine for the menu item called ``name`` at its current price (or ``price``)."""
    item_id = fake.item_id(name)
    return NewLine(
        product_id=item_id,
        quantity=quantity,
        unit_price=fake.menu[item_id]["price"] if price is None else price,
        notes=notes,
        modifier_ids=tuple(fake.modifier_id(m) for m in modifiers),
        external_ref=ref,
    )


def item(fake: FakeRestai, name: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """A RestAI request line, as a waiter's screen sends it."""
    return {"menuItemId": fake.item_id(name), "quantity": quantity, **extra}
