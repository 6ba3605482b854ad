"""Small builders shared by the mock POS tests."""

from __future__ import annotations

from typing import Any

import httpx


def item(
    product_id: str,
    quantity: int,
    unit_price: int,
    ref: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """One line of a POS API ``POST /tables/{id}/order/lines`` body."""
    return {
        "productId": product_id,
        "quantity": quantity,
        "unitPrice": unit_price,
        "notes": notes,
        "externalRef": ref,
    }


async def post_lines(
    http: httpx.AsyncClient, table_id: str, *lines: dict[str, Any], order_id: str | None = None
) -> httpx.Response:
    return await http.post(
        f"/tables/{table_id}/order/lines", json={"orderId": order_id, "lines": list(lines)}
    )
