"""A client for the mock POS's control API: how tests and the demo act as the restaurant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx


class MockPosControlError(Exception):
    """The control API refused; ``code`` is the mock POS's error code."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class MockPosControl:
    """Async client of ``/_control``; keyword fields may be snake_case (``unit_price``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (``httpx.ASGITransport`` over the app of
        :func:`create_app`: the mock POS inside the test's process)."""
        verify = base_url.lower().startswith("https:")  # certificates cost ~25 ms to load
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, verify=verify, transport=transport
        )

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
                code, message = "HTTP_ERROR", response.text
            raise MockPosControlError(response.status_code, code, message)
        return response.json() if response.content else None

    async def health(self) -> bool:
        return bool((await self._call("GET", "/health"))["status"] == "ok")

    async def table(self, table_id: str) -> dict[str, Any]:
        """``{"open": order or None, "closed": [orders]}``."""
        result: dict[str, Any] = await self._call("GET", f"/_control/tables/{table_id}")
        return result

    async def add_waiter_lines(
        self, table_id: str, lines: Sequence[Mapping[str, object]]
    ) -> dict[str, Any]:
        """Lines as ``{"productId", "quantity", "notes"}``; answers the order."""
        body = {"lines": [{_camel(k): v for k, v in line.items()} for line in lines]}
        result: dict[str, Any] = await self._call(
            "POST", f"/_control/tables/{table_id}/lines", body
        )
        return result

    async def patch_line(self, line_id: str, **fields: object) -> dict[str, Any]:
        """Change ``status``, ``quantity``, ``unit_price`` or ``notes``; answers the line."""
        body = {_camel(k): v for k, v in fields.items()}
        result: dict[str, Any] = await self._call("PATCH", f"/_control/lines/{line_id}", body)
        return result

    async def delete_line(self, line_id: str) -> None:
        await self._call("DELETE", f"/_control/lines/{line_id}")

    async def add_discount(
        self, table_id: str, name: str, amount: int, line_id: str | None = None
    ) -> dict[str, Any]:
        body = {"name": name, "amount": amount, "lineId": line_id}
        result: dict[str, Any] = await self._call(
            "POST", f"/_control/tables/{table_id}/discounts", body
        )
        return result

    async def delete_discount(self, discount_id: str) -> None:
        await self._call("DELETE", f"/_control/discounts/{discount_id}")

    async def close_table(self, table_id: str) -> dict[str, Any]:
        """Close (pay) the open check; answers the closed order."""
        result: dict[str, Any] = await self._call("POST", f"/_control/tables/{table_id}/close")
        return result

    async def set_product(self, product_id: str, **fields: object) -> dict[str, Any]:
        """Change ``price``, ``available`` or ``stock``; answers the product."""
        body = {_camel(k): v for k, v in fields.items()}
        result: dict[str, Any] = await self._call("PUT", f"/_control/products/{product_id}", body)
        return result

    async def set_faults(
        self, latency_ms: int = 0, error_rate: float = 0.0, down: bool = False
    ) -> dict[str, Any]:
        body = {"latencyMs": latency_ms, "errorRate": error_rate, "down": down}
        result: dict[str, Any] = await self._call("PUT", "/_control/faults", body)
        return result

    async def reset(self) -> None:
        """Back to the seed data, no faults; open event streams are cut."""
        await self._call("POST", "/_control/reset")
