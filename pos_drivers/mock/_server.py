"""The mock POS over HTTP: the POS API, the ``/events`` push channel and the control API.

A thin layer over :class:`MockPosState`: it parses bodies, applies the faults to the POS
API (never to the control API), encodes answers, and fans changes out to the SSE
subscribers. Decisions where the spec is silent:

- ``GET /tables/{id}/order/lines`` answers ``{"lines": [...]}``; without ``externalRef``
  every line that has one.
- Faults: ``down`` answers 503 at once; ``errorRate`` draws per call and answers 503
  without applying; ``latencyMs`` delays the answer after applying (for ``/events``, the
  answer that opens the stream). The 503 body's code is ``UNAVAILABLE``.
- ``/events``: each event's ``id`` is the change cursor after it. Setting ``down``,
  a reset and the server's shutdown cut every stream (the client reconnects and
  resynchronises); a subscriber that falls ``MAX_BACKLOG`` events behind is cut too.
- ``POST /_control/reset`` also clears the faults; malformed bodies answer 400
  ``INVALID_REQUEST``; unknown paths answer 404 ``NOT_FOUND``.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypedDict

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_drivers.mock._state import (
    JSON,
    LINE_STATUSES,
    Change,
    LineRequest,
    MockPosError,
    MockPosState,
    Order,
    compact_json,
)

PING_SECONDS: Final = 10.0
"""Keep-alive comments on idle SSE streams, so a client can time out a dead peer."""
MAX_BACKLOG: Final = 10_000

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    down: bool = False

    def to_json(self) -> JSON:
        return {"latencyMs": self.latency_ms, "errorRate": self.error_rate, "down": self.down}


class _Subscriber:
    """One SSE connection's queue of changes; ``cut`` ends the stream."""

    def __init__(self) -> None:
        self.pending: deque[tuple[str, Change]] = deque()
        self.cut = False
        self.wakeup = asyncio.Event()

    def push(self, cursor: str, change: Change) -> None:
        if len(self.pending) >= MAX_BACKLOG:
            self.cut = True
        else:
            self.pending.append((cursor, change))
        self.wakeup.set()

    def end(self) -> None:
        self.cut = True
        self.wakeup.set()


class Hub:
    """Fans the state's changes out to the open SSE streams."""

    def __init__(self, state: MockPosState) -> None:
        self.closed = False
        self._state = state
        self._subscribers: set[_Subscriber] = set()
        state.add_listener(self._on_change)

    def _on_change(self, change: Change | None) -> None:
        if change is None:
            self.cut_all()
            return
        cursor = self._state.cursor
        for subscriber in self._subscribers:
            subscriber.push(cursor, change)

    @property
    def connected(self) -> int:
        """Open event streams."""
        return len(self._subscribers)

    def cut_all(self) -> None:
        for subscriber in self._subscribers:
            subscriber.end()

    def close(self) -> None:
        """End every stream for good (the server is shutting down)."""
        self.closed = True
        self.cut_all()

    def subscribe(self) -> _Subscriber:
        subscriber = _Subscriber()
        if self.closed:
            subscriber.end()
        self._subscribers.add(subscriber)
        return subscriber

    async def stream(self, subscriber: _Subscriber) -> AsyncIterator[ServerSentEvent]:
        try:
            while not subscriber.cut:
                await subscriber.wakeup.wait()
                subscriber.wakeup.clear()
                while subscriber.pending and not subscriber.cut:
                    cursor, change = subscriber.pending.popleft()
                    yield ServerSentEvent(compact_json(change.to_json()), id=cursor)
        finally:
            self._subscribers.discard(subscriber)


def _json(body: object, status: int = 200) -> Response:
    return Response(compact_json(body).encode(), status, media_type="application/json")


def _check(order: Order, status: int = 200) -> Response:
    return Response(order.encoded().encode(), status, media_type="application/json")


def _error(error: MockPosError) -> Response:
    return _json(error.body(), error.status)


def _unavailable(why: str) -> Response:
    return _error(MockPosError(503, "UNAVAILABLE", f"the POS is unavailable ({why})"))


def _invalid(message: str) -> MockPosError:
    return MockPosError(400, "INVALID_REQUEST", message)


# -- body parsing --------------------------------------------------------------------


async def _body(request: Request) -> Mapping[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise _invalid("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    return body


def _int(body: Mapping[str, Any], key: str, minimum: int = 0) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _invalid(f"{key} must be an integer >= {minimum}")
    return value


def _opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{key} must be a string or null")
    return value


def _str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{key} must be a non-empty string")
    return value


def _line_items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = body.get("lines")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _invalid("lines must be a list of objects")
    return items


def _line_request(item: Mapping[str, Any], *, integration: bool) -> LineRequest:
    return LineRequest(
        product_id=_str(item, "productId"),
        quantity=_int(item, "quantity", 1),
        unit_price=_int(item, "unitPrice") if integration else None,
        notes=_opt_str(item, "notes"),
        external_ref=_opt_str(item, "externalRef") if integration else None,
    )


def _only(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise _invalid(f"unknown fields: {', '.join(sorted(unknown))}")
    if not body:
        raise _invalid(f"nothing to change; give any of {', '.join(sorted(allowed))}")


class _LinePatch(TypedDict, total=False):
    status: str
    quantity: int
    unit_price: int
    notes: str | None


class _ProductPatch(TypedDict, total=False):
    price: int
    available: bool
    stock: int | None


def _line_patch(body: Mapping[str, Any]) -> _LinePatch:
    _only(body, frozenset({"status", "quantity", "unitPrice", "notes"}))
    patch: _LinePatch = {}
    if "status" in body:
        if body["status"] not in LINE_STATUSES:
            raise _invalid(f"status must be one of {', '.join(sorted(LINE_STATUSES))}")
        patch["status"] = body["status"]
    if "quantity" in body:
        patch["quantity"] = _int(body, "quantity", 1)
    if "unitPrice" in body:
        patch["unit_price"] = _int(body, "unitPrice")
    if "notes" in body:
        patch["notes"] = _opt_str(body, "notes")
    return patch


def _product_patch(body: Mapping[str, Any]) -> _ProductPatch:
    _only(body, frozenset({"price", "available", "stock"}))
    patch: _ProductPatch = {}
    if "price" in body:
        patch["price"] = _int(body, "price")
    if "available" in body:
        if not isinstance(body["available"], bool):
            raise _invalid("available must be a boolean")
        patch["available"] = body["available"]
    if "stock" in body:
        patch["stock"] = None if body["stock"] is None else _int(body, "stock")
    return patch


def _faults(body: Mapping[str, Any]) -> Faults:
    rate = body.get("errorRate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise _invalid("errorRate must be a number between 0 and 1")
    down = body.get("down", False)
    if not isinstance(down, bool):
        raise _invalid("down must be a boolean")
    latency = _int(body, "latencyMs") if "latencyMs" in body else 0
    return Faults(latency, float(rate), down)


# -- the application -----------------------------------------------------------------


class MockPos:
    """The state, the faults and the SSE hub behind one application."""

    def __init__(self, state: MockPosState) -> None:
        self.state = state
        self.faults = Faults()
        self.hub = Hub(state)

    def pos_api(self, handler: Endpoint) -> Endpoint:
        """Wrap a POS API handler with the faults and the error answers."""

        async def endpoint(request: Request) -> Response:
            faults = self.faults
            if faults.down:
                return _unavailable("down")
            if faults.error_rate and random.random() < faults.error_rate:
                return _unavailable("injected error")
            response = await _answer(handler, request)
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            return response

        return endpoint

    # -- POS API ----------------------------------------------------------------------

    async def products(self, request: Request) -> Response:
        return _json([product.to_json() for product in self.state.products()])

    async def tables(self, request: Request) -> Response:
        return _json([table.to_json() for table in self.state.tables()])

    async def order(self, request: Request) -> Response:
        body = self.state.order_json(request.path_params["table_id"])
        return Response(body, media_type="application/json")

    async def no_such_table(self, request: Request) -> Response:
        """A path under /tables that names no table: an id with a slash (``../x``, sent
        escaped and decoded by the router) is still an unknown table."""
        raise MockPosError(404, "TABLE_NOT_FOUND", f"no table at {request.url.path!r}")

    async def find_lines(self, request: Request) -> Response:
        prefix = request.query_params.get("externalRef", "")
        lines = self.state.find_lines(request.path_params["table_id"], prefix)
        return _json({"lines": [line.to_json() for line in lines]})

    async def add_lines(self, request: Request) -> Response:
        body = await _body(request)
        order_id = _opt_str(body, "orderId")
        lines = [_line_request(item, integration=True) for item in _line_items(body)]
        order = self.state.add_lines(request.path_params["table_id"], order_id, lines)
        return _check(order, 201)

    async def changes(self, request: Request) -> Response:
        changes, cursor = self.state.changes(request.query_params.get("since"))
        return _json({"changes": [change.to_json() for change in changes], "cursor": cursor})

    async def events(self, request: Request) -> Response:
        if self.hub.closed:
            return _unavailable("shutting down")
        subscriber = self.hub.subscribe()
        return EventSourceResponse(self.hub.stream(subscriber), ping=PING_SECONDS)

    # -- control API ------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return _json({"status": "ok"})

    async def control_table(self, request: Request) -> Response:
        table = self.state.table(request.path_params["table_id"])
        body = {
            "open": table.open.to_json() if table.open else None,
            "closed": [order.to_json() for order in table.closed],
        }
        return _json(body)

    async def waiter_lines(self, request: Request) -> Response:
        items = _line_items(await _body(request))
        lines = [_line_request(item, integration=False) for item in items]
        order = self.state.add_waiter_lines(request.path_params["table_id"], lines)
        return _check(order, 201)

    async def patch_line(self, request: Request) -> Response:
        patch = _line_patch(await _body(request))
        line = self.state.patch_line(request.path_params["line_id"], **patch)
        return _json(line.to_json())

    async def delete_line(self, request: Request) -> Response:
        self.state.delete_line(request.path_params["line_id"])
        return Response(status_code=204)

    async def add_discount(self, request: Request) -> Response:
        body = await _body(request)
        discount = self.state.add_discount(
            request.path_params["table_id"],
            _str(body, "name"),
            _int(body, "amount", 1),
            _opt_str(body, "lineId"),
        )
        return _json(discount.to_json(), 201)

    async def delete_discount(self, request: Request) -> Response:
        self.state.delete_discount(request.path_params["discount_id"])
        return Response(status_code=204)

    async def close_table(self, request: Request) -> Response:
        order = self.state.close_table(request.path_params["table_id"])
        return _check(order)

    async def set_product(self, request: Request) -> Response:
        patch = _product_patch(await _body(request))
        product = self.state.set_product(request.path_params["product_id"], **patch)
        return _json(product.to_json())

    async def set_faults(self, request: Request) -> Response:
        self.faults = _faults(await _body(request))
        if self.faults.down:
            self.hub.cut_all()
        return _json(self.faults.to_json())

    async def reset(self, request: Request) -> Response:
        self.faults = Faults()
        self.state.reset()
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        api, control = self.pos_api, _control
        return [
            Route("/products", api(self.products), methods=["GET"]),
            Route("/tables", api(self.tables), methods=["GET"]),
            Route("/tables/{table_id}/order", api(self.order), methods=["GET"]),
            Route("/tables/{table_id}/order/lines", api(self.find_lines), methods=["GET"]),
            Route("/tables/{table_id}/order/lines", api(self.add_lines), methods=["POST"]),
            Route("/tables/{rest:path}", api(self.no_such_table), methods=["GET", "POST"]),
            Route("/orders/changes", api(self.changes), methods=["GET"]),
            Route("/events", api(self.events), methods=["GET"]),
            Route("/health", control(self.health), methods=["GET"]),
            Route("/_control/tables/{table_id}", control(self.control_table), methods=["GET"]),
            Route(
                "/_control/tables/{table_id}/lines", control(self.waiter_lines), methods=["POST"]
            ),
            Route("/_control/lines/{line_id}", control(self.patch_line), methods=["PATCH"]),
            Route("/_control/lines/{line_id}", control(self.delete_line), methods=["DELETE"]),
            Route(
                "/_control/tables/{table_id}/discounts",
                control(self.add_discount),
                methods=["POST"],
            ),
            Route(
                "/_control/discounts/{discount_id}",
                control(self.delete_discount),
                methods=["DELETE"],
            ),
            Route("/_control/tables/{table_id}/close", control(self.close_table), methods=["POST"]),
            Route("/_control/products/{product_id}", control(self.set_product), methods=["PUT"]),
            Route("/_control/faults", control(self.set_faults), methods=["PUT"]),
            Route("/_control/reset", control(self.reset), methods=["POST"]),
        ]


async def _answer(handler: Endpoint, request: Request) -> Response:
    try:
        return await handler(request)
    except MockPosError as error:
        return _error(error)


def _control(handler: Endpoint) -> Endpoint:
    """Control API handlers: error answers, never faults."""

    async def endpoint(request: Request) -> Response:
        return await _answer(handler, request)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return _json({"error": code, "message": str(exc.detail), "lines": []}, exc.status_code)


def create_app(state: MockPosState | None = None) -> Starlette:
    """The mock POS application, over ``state`` (fresh seed data by default)."""
    pos = MockPos(MockPosState() if state is None else state)
    app = Starlette(routes=pos.routes(), exception_handlers={HTTPException: _http_error})
    app.state.mock_pos = pos
    return app


def mock_pos_of(app: Starlette) -> MockPos:
    """The :class:`MockPos` behind an application made by :func:`create_app`."""
    pos = app.state.mock_pos
    assert isinstance(pos, MockPos)
    return pos
