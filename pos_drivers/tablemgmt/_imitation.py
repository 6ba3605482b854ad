"""An imitation of the Table Management API over HTTP, for tests and for trying the driver.

- The POS API under ``/api/v1`` (every documented endpoint and rule, the documented
  error body, pagination), with the assumed OrderResponse embedded in occupied tables.
- JWT HS256 with the fixed test key :data:`TEST_JWT_KEY` (PyJWT): a ``role`` claim of
  ``admin`` or ``manager``, else 403; an expired, revoked or bad token, 401. Mint
  tokens with :func:`mint_token`.
- Faults on the POS API only: ``down`` answers 503, ``error_rate`` draws a 500 per
  request, ``latency_ms`` delays each answer.
- A control API under ``/_control`` (no auth, no faults, not counted), used through
  :class:`~pos_drivers.tablemgmt.TableMgmtControl`: seed data, the restaurant's acts
  (open an order, add/cancel/serve items, release), faults, tokens, and a count of POS
  API requests per ``"<METHOD> <raw path>"``.

Paths are matched segment by segment on the raw (still escaped) path, then each
segment is unescaped: an id like ``../_control/reset`` sent as ``..%2F_control%2Freset``
is one (unknown) table id, never a way into another endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_drivers.tablemgmt._imitation_state import (
    CURRENCY,
    JSON,
    MONEY_FORMATS,
    OTHER_OUTLET_ID,
    SEED_ORGANIZATION_ID,
    SEED_OUTLET_ID,
    TABLE_STATUSES,
    ImitationError,
    MoneyFormat,
    TableMgmtState,
    decimal_value,
    invalid,
)

TEST_JWT_KEY: Final = "pos-adapter tablemgmt imitation: a published test key, not a secret"
"""The HS256 key the imitation checks tokens with (public: it protects nothing)."""
ROLES: Final = frozenset({"admin", "manager"})
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8090
_METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def mint_token(
    role: str = "manager",
    *,
    expires_in: float = 3600.0,
    subject: str = "imitation-user",
    key: str = TEST_JWT_KEY,
) -> str:
    """A JWT the imitation accepts (with ``role`` admin or manager) until ``expires_in``
    seconds from now; a negative ``expires_in`` makes an expired one."""
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": role,
        "iat": now,
        "exp": now + timedelta(seconds=expires_in),
        "jti": uuid.uuid4().hex,  # two tokens minted in one second still differ
    }
    return jwt.encode(claims, key, algorithm="HS256")


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    down: bool = False

    def to_json(self) -> JSON:
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate, "down": self.down}


Params = dict[str, str]
Handler = Callable[[Request, Params], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    api: bool


def _match(pattern: tuple[str, ...], segments: list[str]) -> Params | None:
    if len(pattern) != len(segments):
        return None
    params: Params = {}
    for part, segment in zip(pattern, segments, strict=True):
        if part.startswith("{"):
            if not segment:
                return None
            params[part[1:-1]] = segment
        elif part != segment:
            return None
    return params


def _json(body: object, status: int = 200) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, media_type="application/json")


def _error(error: ImitationError) -> Response:
    return _json(error.body(), error.status)


# -- request bodies ------------------------------------------------------------------


async def _body(request: Request) -> Mapping[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError:
        raise invalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    return body


def _str(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{key} must be a non-empty string")
    return value


def _int(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{key} must be an integer")
    return value


def _bool(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise invalid(f"{key} must be a boolean")
    return value


def _money_format(body: Mapping[str, Any]) -> MoneyFormat:
    value = body.get("money_format")
    if value == "string":
        return "string"
    if value == "number":
        return "number"
    raise invalid(f"money_format must be one of {', '.join(sorted(MONEY_FORMATS))}")


def _query_int(request: Request, key: str, default: int) -> int:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"{key} must be an integer") from None


def _order_changes(body: Mapping[str, Any]) -> JSON:
    changes: JSON = {}
    if "discount_amount" in body:
        changes["discount_amount"] = decimal_value(body["discount_amount"], "discount_amount")
    if "currency" in body:
        currency = body["currency"]
        if currency is not None and not isinstance(currency, str):
            raise invalid("currency must be a string or null")
        changes["currency"] = currency
    if "money_format" in body:
        changes["money_format"] = _money_format(body)
    for key in ("with_totals", "embedded"):
        if key in body:
            changes[key] = _bool(body, key)
    return changes


def _item_fields(body: Mapping[str, Any]) -> JSON:
    fields: JSON = {}
    if "status" in body:
        fields["status"] = _str(body, "status")
    if "quantity" in body:
        quantity = _int(body, "quantity")
        if quantity < 1:
            raise invalid("quantity must be at least 1")
        fields["quantity"] = quantity
    if "notes" in body:
        notes = body["notes"]
        if notes is not None and not isinstance(notes, str):
            raise invalid("notes must be a string or null")
        fields["notes"] = notes
    return fields


# -- the application -----------------------------------------------------------------


class TableMgmtImitation:
    """The state, the faults, the token rules and the request counts behind one app."""

    def __init__(self, state: TableMgmtState | None = None, *, key: str = TEST_JWT_KEY) -> None:
        self.state = TableMgmtState() if state is None else state
        self.key = key
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.revoked: set[str] = set()
        self._routes = self._route_table()
        self.app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=_METHODS)])
        self.app.state.imitation = self

    # -- dispatch ------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        path = bytes(raw).split(b"?", 1)[0].decode("latin-1")
        try:
            segments = [unquote(part, errors="strict") for part in path[1:].split("/")]
        except UnicodeDecodeError:
            return _error(invalid("the path is not UTF-8"))
        method = request.method
        matched = [(r, p) for r in self._routes if (p := _match(r.pattern, segments)) is not None]
        found = next(((r, p) for r, p in matched if r.method == method), None)
        is_api = path.startswith("/api/")
        if is_api:
            self.requests[f"{method} {path}"] += 1
            faulted = await self._fault()
            if faulted is not None:
                return faulted
        if found is None:
            status, error = (405, "Method not allowed") if matched else (404, "Not found")
            return _error(ImitationError(status, error, f"no endpoint {method} {path}"))
        route, params = found
        try:
            if route.api:
                self._authorize(request)
            return await route.handler(request, params)
        except ImitationError as refusal:
            return _error(refusal)

    async def _fault(self) -> Response | None:
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.down:
            return _error(ImitationError(503, "Service unavailable", "the POS is down"))
        if faults.error_rate and random.random() < faults.error_rate:
            return _error(ImitationError(500, "Internal server error", "injected fault"))
        return None

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ImitationError(401, "Unauthorized", "Authorization header required")
        token = token.strip()
        try:
            claims = jwt.decode(
                token, self.key, algorithms=["HS256"], options={"require": ["exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise ImitationError(401, "Unauthorized", "Token has expired") from None
        except jwt.InvalidTokenError:
            raise ImitationError(401, "Unauthorized", "Invalid token") from None
        if token in self.revoked:
            raise ImitationError(401, "Unauthorized", "Token has been revoked")
        if claims.get("role") not in ROLES:
            raise ImitationError(403, "Forbidden", "admin or manager role required")

    def _route_table(self) -> list[_Route]:
        routes: list[_Route] = []

        def add(method: str, path: str, handler: Handler) -> None:
            pattern = tuple(path.strip("/").split("/"))
            routes.append(_Route(method, pattern, handler, api=pattern[0] == "api"))

        add("POST", "/api/v1/tables", self.create_table)
        add("GET", "/api/v1/tables", self.list_tables)
        add("GET", "/api/v1/tables/{id}", self.get_table)
        add("PUT", "/api/v1/tables/{id}", self.update_table)
        add("DELETE", "/api/v1/tables/{id}", self.delete_table)
        add("POST", "/api/v1/tables/{id}/occupy", self.occupy)
        add("POST", "/api/v1/tables/{id}/release", self.release)
        add("GET", "/api/v1/outlets/{outlet}/tables/available", self.available)
        add("GET", "/api/v1/outlets/{outlet}/tables/occupied", self.occupied)
        add("GET", "/_control/seed", self.control_seed)
        add("POST", "/_control/reset", self.control_reset)
        add("GET", "/_control/requests", self.control_requests)
        add("DELETE", "/_control/requests", self.control_clear_requests)
        add("PUT", "/_control/faults", self.control_faults)
        add("POST", "/_control/tokens", self.control_mint)
        add("POST", "/_control/tokens/revoke", self.control_revoke)
        add("GET", "/_control/tables", self.control_tables)
        add("POST", "/_control/tables", self.control_create_table)
        add("GET", "/_control/tables/{id}", self.control_table)
        add("PUT", "/_control/tables/{id}", self.control_set_table)
        add("POST", "/_control/tables/{id}/order", self.control_open_order)
        add("PATCH", "/_control/tables/{id}/order", self.control_update_order)
        add("POST", "/_control/tables/{id}/items", self.control_add_item)
        add("POST", "/_control/tables/{id}/release", self.control_release)
        add("PATCH", "/_control/items/{id}", self.control_update_item)
        add("DELETE", "/_control/items/{id}", self.control_delete_item)
        return routes

    # -- the POS API -----------------------------------------------------------------

    async def create_table(self, request: Request, params: Params) -> Response:
        body = await _body(request)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise invalid("metadata must be an object")
        table = self.state.create_table(
            str(_str(body, "outlet_id")),
            str(_str(body, "table_name")),
            capacity=_int(body, "capacity"),
            position_x=decimal_value(body.get("position_x", 0), "position_x"),
            position_y=decimal_value(body.get("position_y", 0), "position_y"),
            metadata=metadata,
        )
        return _json(self.state.created_json(table), 201)

    async def list_tables(self, request: Request, params: Params) -> Response:
        query = request.query_params
        active = query.get("is_active")
        if active not in (None, "", "true", "false"):
            raise invalid("is_active must be true or false")
        answer = self.state.list_tables(
            organization_id=query.get("organization_id") or None,
            outlet_id=query.get("outlet_id") or None,
            status=query.get("status") or None,
            is_active=None if not active else active == "true",
            search=query.get("search") or None,
            page=_query_int(request, "page", 1),
            limit=_query_int(request, "limit", 10),
        )
        return _json(answer)

    async def get_table(self, request: Request, params: Params) -> Response:
        return _json(self.state.table_json(self.state.table(params["id"])))

    async def update_table(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        body = await _body(request)
        changes: JSON = {}
        if body.get("table_name") is not None:
            changes["table_name"] = _str(body, "table_name")
        if body.get("status") is not None:
            if body["status"] not in TABLE_STATUSES:
                raise invalid(f"status must be one of {', '.join(sorted(TABLE_STATUSES))}")
            changes["status"] = body["status"]
        for key in ("position_x", "position_y"):
            if body.get(key) is not None:
                changes[key] = decimal_value(body[key], key)
        if body.get("capacity") is not None:
            changes["capacity"] = _int(body, "capacity")
        if body.get("is_active") is not None:
            changes["is_active"] = _bool(body, "is_active")
        if body.get("metadata") is not None:
            if not isinstance(body["metadata"], dict):
                raise invalid("metadata must be an object")
            changes["metadata"] = body["metadata"]
        table = self.state.update_table(params["id"], changes)
        return _json(self.state.table_json(table))

    async def delete_table(self, request: Request, params: Params) -> Response:
        self.state.delete_table(params["id"])
        return Response(status_code=204)

    async def occupy(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        body = await _body(request)
        table = self.state.occupy(
            params["id"], str(_str(body, "order_id")), _str(body, "start_time", required=False)
        )
        return _json(self.state.table_json(table))

    async def release(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        body = await _body(request)
        amount = decimal_value(body.get("payment_amount"), "payment_amount")
        if amount < 0:
            raise invalid("payment_amount must not be negative")
        return _json(self.state.table_json(self.state.release(params["id"], amount)))

    async def available(self, request: Request, params: Params) -> Response:
        return _json(self.state.available(params["outlet"]))

    async def occupied(self, request: Request, params: Params) -> Response:
        return _json(self.state.occupied(params["outlet"]))

    # -- the control API -------------------------------------------------------------

    async def control_seed(self, request: Request, params: Params) -> Response:
        state = self.state
        return _json({
            "organization_id": SEED_ORGANIZATION_ID,
            "outlet_id": SEED_OUTLET_ID,
            "other_outlet_id": OTHER_OUTLET_ID,
            "currency": CURRENCY,
            "money_format": state.money_format,
            "products": [
                {"product_id": p.product_id, "name": p.name, "price": str(p.price)}
                for p in state.products.values()
            ],
        })

    async def control_reset(self, request: Request, params: Params) -> Response:
        """Seed data, no faults, no revoked token, request counts cleared."""
        self.state.reset()
        self.faults = Faults()
        self.revoked.clear()
        self.requests.clear()
        return Response(status_code=204)

    async def control_requests(self, request: Request, params: Params) -> Response:
        return _json({"requests": dict(self.requests)})

    async def control_clear_requests(self, request: Request, params: Params) -> Response:
        self.requests.clear()
        return Response(status_code=204)

    async def control_faults(self, request: Request, params: Params) -> Response:
        body = await _body(request)
        rate = body.get("error_rate", 0)
        if isinstance(rate, bool) or not isinstance(rate, int | Decimal) or not 0 <= rate <= 1:
            raise invalid("error_rate must be a number between 0 and 1")
        latency = _int(body, "latency_ms") if "latency_ms" in body else 0
        if latency < 0:
            raise invalid("latency_ms must not be negative")
        down = _bool(body, "down") if "down" in body else False
        self.faults = Faults(latency, float(rate), down)
        return _json(self.faults.to_json())

    async def control_mint(self, request: Request, params: Params) -> Response:
        body = await _body(request)
        role = _str(body, "role", required=False) or "manager"
        expires_in = decimal_value(body.get("expires_in", 3600), "expires_in")
        return _json({"token": mint_token(role, expires_in=float(expires_in), key=self.key)}, 201)

    async def control_revoke(self, request: Request, params: Params) -> Response:
        self.revoked.add(str(_str(await _body(request), "token")).strip())
        return Response(status_code=204)

    async def control_tables(self, request: Request, params: Params) -> Response:
        return _json([
            {"id": t.id, "table_name": t.table_name, "outlet_id": t.outlet_id,
             "status": t.status, "is_active": t.is_active}
            for t in self.state.tables.values()
        ])

    async def control_create_table(self, request: Request, params: Params) -> Response:
        body = await _body(request)
        table = self.state.create_table(
            _str(body, "outlet_id", required=False) or SEED_OUTLET_ID,
            str(_str(body, "table_name")),
            capacity=_int(body, "capacity") if "capacity" in body else 4,
        )
        return _json(self.state.table_json(table), 201)

    async def control_table(self, request: Request, params: Params) -> Response:
        """The table as the POS API shows it, and its order even when not embedded."""
        table = self.state.table(params["id"])
        order = self.state.orders.get(table.order_id or "")
        return _json({"table": self.state.table_json(table),
                      "order": order.to_json() if order else None})

    async def control_set_table(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        body = await _body(request)
        changes: JSON = {}
        if "status" in body:
            if body["status"] not in TABLE_STATUSES:
                raise invalid(f"status must be one of {', '.join(sorted(TABLE_STATUSES))}")
            changes["status"] = body["status"]
        if "is_active" in body:
            changes["is_active"] = _bool(body, "is_active")
        if "table_name" in body:
            changes["table_name"] = _str(body, "table_name")
        return _json(self.state.table_json(self.state.set_table(params["id"], changes)))

    async def control_open_order(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        body = await _body(request)
        items = body.get("items") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise invalid("items must be a list of objects")
        changes = _order_changes(body)
        requested = [self._item_request(item) for item in items]
        order = self.state.open_order(params["id"])
        self.state.update_order(params["id"], changes)
        for item in requested:
            self.state.add_item(params["id"], **item)
        return _json(order.to_json(), 201)

    def _item_request(self, body: Mapping[str, Any]) -> JSON:
        item: JSON = {"product_id": _str(body, "product_id"), **_item_fields(body)}
        if body.get("unit_price") is not None:
            item["unit_price"] = decimal_value(body["unit_price"], "unit_price")
        return item

    async def control_update_order(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        changes = _order_changes(await _body(request))
        return _json(self.state.update_order(params["id"], changes).to_json())

    async def control_add_item(self, request: Request, params: Params) -> Response:
        self.state.table(params["id"])
        fields = self._item_request(await _body(request))
        item = self.state.add_item(params["id"], **fields)
        order = self.state.open_order_of(params["id"])
        return _json(order.item_json(item), 201)

    async def control_update_item(self, request: Request, params: Params) -> Response:
        fields = _item_fields(await _body(request))
        item, order = self.state.item(params["id"])
        self.state.update_item(params["id"], fields)
        return _json(order.item_json(item))

    async def control_delete_item(self, request: Request, params: Params) -> Response:
        self.state.delete_item(params["id"])
        return Response(status_code=204)

    async def control_release(self, request: Request, params: Params) -> Response:
        body = await _body(request)
        if body.get("payment_amount") is None:
            amount = self.state.open_order_of(params["id"]).total()
        else:
            amount = decimal_value(body["payment_amount"], "payment_amount")
        return _json(self.state.table_json(self.state.release(params["id"], amount)))


def create_app(
    state: TableMgmtState | None = None, *, key: str = TEST_JWT_KEY
) -> Starlette:
    """The imitation's application over ``state`` (fresh seed data by default)."""
    return TableMgmtImitation(state, key=key).app


def imitation_of(app: Starlette) -> TableMgmtImitation:
    """The :class:`TableMgmtImitation` behind an application made by :func:`create_app`."""
    imitation = app.state.imitation
    assert isinstance(imitation, TableMgmtImitation)
    return imitation


# -- running it ----------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn that says when it listens, and leaves signals to the host when embedded."""

    def __init__(self, config: uvicorn.Config, *, own_signals: bool) -> None:
        super().__init__(config)
        self._own_signals = own_signals
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if not self._own_signals:
            yield
            return
        with super().capture_signals():
            yield


def _config(
    app: Starlette, host: str, port: int, log_level: str, *, embedded: bool
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None if embedded else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )


def run_tablemgmt_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    money_format: MoneyFormat = "string",
    log_level: str = "info",
) -> None:
    """Run the imitation until interrupted (blocking; Ctrl+C returns).

    Prints the seed outlet and a manager token valid for 24 hours: what the driver's
    ``POS_ADAPTER_TABLEMGMT_*`` settings need.
    """
    app = create_app(TableMgmtState(money_format=money_format))
    sock = _listen(host, port)
    url = f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}"
    print(
        f"Table Management imitation on {url} (test key: pos_drivers.tablemgmt.TEST_JWT_KEY)\n"
        f"  POS_ADAPTER_POS_URL={url}\n"
        f"  POS_ADAPTER_TABLEMGMT_OUTLET_ID={SEED_OUTLET_ID}\n"
        f"  POS_ADAPTER_TABLEMGMT_TOKEN={mint_token('manager', expires_in=24 * 3600)}",
        flush=True,
    )
    server = _Server(_config(app, host, port, log_level, embedded=False), own_signals=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket: the port is known (``port=0``) before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError:
        sock.close()
        raise
    return sock


class TableMgmtServer:
    """The imitation on a real socket, inside the current event loop.

    ``port=0`` takes a free port; ``url`` tells which; ``state`` is the live
    :class:`TableMgmtState` and ``imitation`` the app's faults and request counts (tests
    may read both). An instance starts once; uvicorn's signals and logging setup are
    left to the host program.
    """

    outlet_id: Final = SEED_OUTLET_ID

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        state: TableMgmtState | None = None,
        log_level: str = "warning",
    ) -> None:
        self.imitation = TableMgmtImitation(state)
        self.state = self.imitation.state
        self.app = self.imitation.app
        self.host = host
        self.port = port
        self._server = _Server(
            _config(self.app, host, port, log_level, embedded=True), own_signals=False
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind (errors surface here), serve, and return once it accepts connections."""
        if self._task is not None or self._server.started:
            raise RuntimeError("a TableMgmtServer starts once; make a new one")
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        ready = asyncio.create_task(self._server.ready.wait())
        try:
            await asyncio.wait({ready, self._task}, timeout=10.0,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not self._server.ready.is_set():
            await self.stop()
            raise RuntimeError("the Table Management imitation did not start")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except TimeoutError:
            self._server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
