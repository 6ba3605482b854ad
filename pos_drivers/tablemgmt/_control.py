"""A client of the imitation's control API: how tests and demos act as the restaurant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from pos_drivers.tablemgmt._imitation_state import SEED_OUTLET_ID


class TableMgmtControlError(Exception):
    """The control API refused; ``error`` is the imitation's error text."""

    def __init__(self, status_code: int, error: str, message: str) -> None:
        super().__init__(f"{status_code} {error}: {message}")
        self.status_code = status_code
        self.error = error
        self.message = message


def _seg(value: str) -> str:
    return quote(value, safe="")


class TableMgmtControl:
    """Async client of ``/_control`` on a running imitation (``TableMgmtServer.url``)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        response = await self._client.request(method, path, json=body)
        if response.is_error:
            try:
                error = response.json()
                code, message = str(error["error"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "HTTP error", response.text
            raise TableMgmtControlError(response.status_code, code, message)
        return response.json() if response.content else None

    # -- the server ------------------------------------------------------------------

    async def seed(self) -> dict[str, Any]:
        """Outlet ids, currency and products of the seed data."""
        result: dict[str, Any] = await self._call("GET", "/_control/seed")
        return result

    async def reset(self) -> None:
        """Back to the seed data: no faults, no revoked token, request counts cleared."""
        await self._call("POST", "/_control/reset")

    async def set_faults(
        self, *, latency_ms: int = 0, error_rate: float = 0.0, down: bool = False
    ) -> None:
        """Faults of the POS API (the control API never has any)."""
        body = {"latency_ms": latency_ms, "error_rate": error_rate, "down": down}
        await self._call("PUT", "/_control/faults", body)

    async def requests(self) -> dict[str, int]:
        """POS API requests so far, by ``"<METHOD> <raw path>"``."""
        result: dict[str, int] = (await self._call("GET", "/_control/requests"))["requests"]
        return result

    async def request_count(self, path: str | None = None, *, method: str | None = None) -> int:
        """POS API requests whose path starts with ``path`` (and of ``method``)."""
        total = 0
        for key, count in (await self.requests()).items():
            verb, _, raw_path = key.partition(" ")
            if (method is None or verb == method) and (path is None or raw_path.startswith(path)):
                total += count
        return total

    async def clear_requests(self) -> None:
        await self._call("DELETE", "/_control/requests")

    async def mint_token(self, role: str = "manager", *, expires_in: float = 3600.0) -> str:
        """A token signed with the server's key."""
        body = {"role": role, "expires_in": expires_in}
        return str((await self._call("POST", "/_control/tokens", body))["token"])

    async def revoke_token(self, token: str) -> None:
        """From now on the token is answered 401."""
        await self._call("POST", "/_control/tokens/revoke", {"token": token})

    # -- tables ----------------------------------------------------------------------

    async def tables(self) -> list[dict[str, Any]]:
        """Every table of every outlet: ``id, table_name, outlet_id, status, is_active``."""
        result: list[dict[str, Any]] = await self._call("GET", "/_control/tables")
        return result

    async def table_id(self, name: str, outlet_id: str = SEED_OUTLET_ID) -> str:
        """The id of the table called ``name`` in the outlet."""
        for table in await self.tables():
            if table["table_name"] == name and table["outlet_id"] == outlet_id:
                return str(table["id"])
        raise KeyError(f"no table {name!r} in outlet {outlet_id}")

    async def table(self, table_id: str) -> dict[str, Any]:
        """``{"table": as GET /api/v1/tables/{id} shows it, "order": its order or None}``."""
        result: dict[str, Any] = await self._call("GET", f"/_control/tables/{_seg(table_id)}")
        return result

    async def create_table(
        self, table_name: str, *, outlet_id: str = SEED_OUTLET_ID, capacity: int = 4
    ) -> dict[str, Any]:
        body = {"table_name": table_name, "outlet_id": outlet_id, "capacity": capacity}
        result: dict[str, Any] = await self._call("POST", "/_control/tables", body)
        return result

    async def set_table(self, table_id: str, **fields: object) -> dict[str, Any]:
        """Set ``status``, ``is_active`` or ``table_name`` without the API's rules."""
        result: dict[str, Any] = await self._call(
            "PUT", f"/_control/tables/{_seg(table_id)}", fields
        )
        return result

    async def release(
        self, table_id: str, payment_amount: str | None = None
    ) -> dict[str, Any]:
        """The guests pay and leave (the order's total by default)."""
        body = {} if payment_amount is None else {"payment_amount": payment_amount}
        result: dict[str, Any] = await self._call(
            "POST", f"/_control/tables/{_seg(table_id)}/release", body
        )
        return result

    # -- orders and items ------------------------------------------------------------

    async def open_order(
        self,
        table_id: str,
        items: Sequence[Mapping[str, object]] = (),
        **options: object,
    ) -> dict[str, Any]:
        """Seat guests: a new order with ``items`` (``{"product_id", "quantity",
        "notes"}``) occupies the table. ``options``: ``currency`` (None: left out),
        ``money_format`` (``"string"``/``"number"``), ``with_totals``, ``embedded``,
        ``discount_amount``. Answers the order."""
        body = {"items": [dict(item) for item in items], **options}
        result: dict[str, Any] = await self._call(
            "POST", f"/_control/tables/{_seg(table_id)}/order", body
        )
        return result

    async def update_order(self, table_id: str, **options: object) -> dict[str, Any]:
        """Change the open order's options (as :meth:`open_order`); answers the order."""
        result: dict[str, Any] = await self._call(
            "PATCH", f"/_control/tables/{_seg(table_id)}/order", options
        )
        return result

    async def add_item(
        self,
        table_id: str,
        product_id: str,
        quantity: int = 1,
        *,
        notes: str | None = None,
        unit_price: str | None = None,
    ) -> dict[str, Any]:
        """A waiter adds an item to the open order; answers the item."""
        body: dict[str, object] = {"product_id": product_id, "quantity": quantity}
        if notes is not None:
            body["notes"] = notes
        if unit_price is not None:
            body["unit_price"] = unit_price
        result: dict[str, Any] = await self._call(
            "POST", f"/_control/tables/{_seg(table_id)}/items", body
        )
        return result

    async def update_item(self, item_id: str, **fields: object) -> dict[str, Any]:
        """Change an item's ``status`` (any text), ``quantity`` or ``notes``."""
        result: dict[str, Any] = await self._call(
            "PATCH", f"/_control/items/{_seg(item_id)}", fields
        )
        return result

    async def set_item_status(self, item_id: str, status: str) -> dict[str, Any]:
        return await self.update_item(item_id, status=status)

    async def cancel_item(self, item_id: str) -> dict[str, Any]:
        return await self.update_item(item_id, status="cancelled")

    async def serve_item(self, item_id: str) -> dict[str, Any]:
        return await self.update_item(item_id, status="served")

    async def delete_item(self, item_id: str) -> None:
        """The item is voided off the order (it disappears)."""
        await self._call("DELETE", f"/_control/items/{_seg(item_id)}")
