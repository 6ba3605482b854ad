"""A small in-memory imitation of RestAI's staff API and branch WebSocket.

Built from ``shared/spec/pos-restai.md`` (RestAI at commit c1029cc): the same routes,
envelopes, Spanish error messages, money rules (integer céntimos, tax on top,
``round((subtotal - discount) * tax_rate / 10000)``), token rules (access JWT with
``exp``, rotating refresh tokens), rate-limit answers (429 + ``Retry-After``) and events
(``{type, payload, timestamp}`` on the branch room, 4001 on token expiry). Like RestAI,
``GET /api/orders/:id`` returns lines sorted by their random UUID, not by insertion.

Tests act as the restaurant through the ``*_hook`` coroutines (waiter orders, kitchen
moves, QR diners, payments, discounts) and inject faults with :meth:`FakeRestai.fail_next`
and :meth:`FakeRestai.before_next`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

Json = dict[str, Any]

SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ORDER_TRANSITIONS = {
    "pending": {"confirmed", "preparing", "cancelled"},
    "confirmed": {"pending", "preparing", "cancelled"},
    "preparing": {"pending", "ready", "cancelled"},
    "ready": {"preparing", "served"},
    "served": {"ready", "completed"},
    "completed": set(),
    "cancelled": set(),
}
ITEM_TRANSITIONS = {
    "pending": {"preparing", "ready", "cancelled"},
    "preparing": {"ready", "cancelled"},
    "ready": {"served", "cancelled"},
    "served": set(),
    "cancelled": set(),
}
ITEM_CASCADE = {
    "preparing": "preparing",
    "ready": "ready",
    "served": "served",
    "completed": "served",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def js_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, status_code=status)


def fail(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    error: Json = {"code": code, "message": message, **extra}
    return JSONResponse({"success": False, "error": error}, status_code=status)


def zod(path: list[str | int], message: str) -> JSONResponse:
    issue = {"code": "custom", "path": path, "message": message}
    return JSONResponse(
        {"success": False, "error": {"issues": [issue], "name": "ZodError"}}, status_code=400
    )


class Refusal(Exception):
    """A business error a route answers with."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__("refused")
        self.response = response


@dataclass
class User:
    id: str
    email: str
    password: str
    role: str
    name: str
    branches: list[str]


@dataclass
class Fault:
    method: str | None
    path: str | None
    status: int
    retry_after: str | None
    remaining: int


@dataclass
class Client:
    socket: WebSocket
    exp: int
    rooms: set[str] = field(default_factory=set)


class FakeRestai:
    """The imitation's state and its Starlette app (``self.app``)."""

    def __init__(self, *, access_ttl: int = 900, ws_check_interval: float = 30.0) -> None:
        self.access_ttl = access_ttl
        self.ws_check_interval = ws_check_interval
        self._secret = secrets.token_bytes(16)
        self.org_id = str(uuid.uuid4())
        self.branch_id = str(uuid.uuid4())
        self.other_branch_id = str(uuid.uuid4())
        self.branch = {
            "id": self.branch_id,
            "organization_id": self.org_id,
            "name": "Principal",
            "slug": "principal",
            "currency": "PEN",
            "tax_rate": 1800,
            "menu_mode": "dynamic",
        }
        self.users: dict[str, User] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.issued: list[str] = []
        self.tables: dict[str, Json] = {}
        self.menu: dict[str, Json] = {}
        self.groups: dict[str, Json] = {}
        self.item_groups: dict[str, list[str]] = {}
        self.sessions: dict[str, Json] = {}
        self.orders: dict[str, Json] = {}
        self.items: dict[str, Json] = {}
        self.item_mods: list[Json] = []
        self.payments: list[Json] = []
        self.calls: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.before: list[tuple[str, str, Callable[[], Awaitable[None]]]] = []
        self.clients: dict[int, Client] = {}
        self.ws_accepted = 0
        self.ws_refused = 0
        self.logins = 0
        self.refreshes = 0
        self._changed = asyncio.Condition()
        self._seed()
        self.app = Starlette(routes=self._routes(), lifespan=self._lifespan)
        self.started = asyncio.Event()
        self.base_url = ""

    # ------------------------------------------------------------------ seed

    def _seed(self) -> None:
        for email, password, role, name in (
            ("gerente@restai.pe", "gerente123", "branch_manager", "Maria Garcia"),
            ("mesero@restai.pe", "mesero1234", "waiter", "Juan Perez"),
        ):
            self.users[email] = User(
                str(uuid.uuid4()), email, password, role, name, [self.branch_id]
            )
        for n in range(1, 15):
            table_id = str(uuid.uuid4())
            short = "".join(SHORT_ALPHABET[(n * 7 + k * 3) % len(SHORT_ALPHABET)] for k in range(5))
            self.tables[table_id] = {
                "id": table_id,
                "branch_id": self.branch_id,
                "organization_id": self.org_id,
                "space_id": None,
                "number": n,
                "capacity": 4,
                "qr_code": f"demo-principal-T{n}-x{n}",
                "short_code": short,
                "status": "available",
                "position_x": 0,
                "position_y": 0,
                "shape": "square",
                "rotation": 0,
                "created_at": _now(),
            }
        for name, price in (
            ("Ceviche Clásico", 3500),
            ("Lomo Saltado", 3800),
            ("Ají de Gallina", 3200),
            ("Causa Limeña", 2200),
            ("Chicha Morada", 800),
            ("Inca Kola 500ml", 600),
            ("Pisco Sour", 2500),
            ("Suspiro a la Limeña", 1500),
        ):
            item_id = str(uuid.uuid4())
            self.menu[item_id] = {
                "id": item_id,
                "branch_id": self.branch_id,
                "name": name,
                "description": None,
                "price": price,
                "is_available": True,
                "deleted_at": None,
                "sort_order": len(self.menu),
            }
        lomo = self.item_id("Lomo Saltado")
        termino = self._group(
            "Término",
            required=True,
            minimum=1,
            maximum=1,
            mods=(("Término medio", 0), ("Bien cocido", 0)),
        )
        extras = self._group(
            "Extras",
            required=False,
            minimum=0,
            maximum=2,
            mods=(("Huevo frito", 300), ("Plátano", 400)),
        )
        self.item_groups[lomo] = [termino, extras]

    def _group(
        self,
        name: str,
        *,
        required: bool,
        minimum: int,
        maximum: int,
        mods: Iterable[tuple[str, int]],
    ) -> str:
        group_id = str(uuid.uuid4())
        self.groups[group_id] = {
            "id": group_id,
            "name": name,
            "is_required": required,
            "min_selections": minimum,
            "max_selections": maximum,
            "modifiers": [
                {
                    "id": str(uuid.uuid4()),
                    "group_id": group_id,
                    "name": m,
                    "price": p,
                    "is_available": True,
                }
                for m, p in mods
            ],
        }
        return group_id

    # ---------------------------------------------------------- test helpers

    def item_id(self, name: str) -> str:
        return next(i for i, row in self.menu.items() if row["name"] == name)

    def modifier_id(self, name: str) -> str:
        return str(
            next(m["id"] for g in self.groups.values() for m in g["modifiers"] if m["name"] == name)
        )

    def table(self, number: int) -> Json:
        return next(t for t in self.tables.values() if t["number"] == number)

    def user(self, email: str = "gerente@restai.pe") -> User:
        return self.users[email]

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (and Retry-After)."""
        self.faults.append(Fault(method, path, status, retry_after, count))

    def before_next(self, method: str, path: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` just before the next ``method path...`` request is handled."""
        self.before.append((method, path, action))

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far stops validating (a secret rotation)."""
        self._secret = secrets.token_bytes(16)

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.calls if m == method and p == path)

    # ------------------------------------------------------------------ jwt

    def _sign(self, claims: Json) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        mac = hmac.new(self._secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(mac)}"

    def _verify(self, token: str) -> Json | None:
        try:
            head, body, mac = token.split(".")
            expected = hmac.new(self._secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64(expected), mac):
                return None
            claims: Json = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if claims.get("exp", 0) <= time.time():
            return None
        return claims

    def _issue(self, user: User) -> Json:
        now = int(time.time())
        access = self._sign(
            {
                "sub": user.id,
                "org": self.org_id,
                "role": user.role,
                "branches": user.branches,
                "iat": now,
                "exp": now + self.access_ttl,
            }
        )
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = user.id
        self.issued.extend((access, refresh))
        return {"accessToken": access, "refreshToken": refresh}

    # --------------------------------------------------------------- routing

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        checker = asyncio.create_task(self._evict_loop())
        self.started.set()
        try:
            yield
        finally:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker

    def _routes(self) -> list[Route | WebSocketRoute]:
        r = Route
        return [
            r("/health", self._health),
            r("/api/auth/login", self._login, methods=["POST"]),
            r("/api/auth/refresh", self._refresh, methods=["POST"]),
            r("/api/auth/logout", self._logout, methods=["POST"]),
            r("/api/branches/{id}", self._staff(self._get_branch)),
            r("/api/tables", self._staff(self._list_tables)),
            r("/api/tables/{id}/active-session", self._staff(self._active_session)),
            r("/api/tables/{id}/free", self._staff(self._free), methods=["POST"]),
            r("/api/tables/{id}", self._staff(self._get_table)),
            r("/api/menu/items", self._staff(self._menu_items)),
            r("/api/menu/modifier-groups", self._staff(self._modifier_groups)),
            r("/api/orders", self._staff(self._list_orders)),
            r("/api/orders", self._staff(self._create_order), methods=["POST"]),
            r("/api/orders/{id}", self._staff(self._get_order)),
            r("/api/orders/{id}/items", self._staff(self._append_items), methods=["POST"]),
            r("/api/orders/{id}/status", self._staff(self._order_status), methods=["PATCH"]),
            r(
                "/api/orders/{id}/items/{item}/status",
                self._staff(self._item_status),
                methods=["PATCH"],
            ),
            r(
                "/api/kitchen/orders/{id}/items/{item}/cancel",
                self._staff(self._kitchen_cancel),
                methods=["POST"],
            ),
            r("/api/payments", self._staff(self._pay), methods=["POST"]),
            WebSocketRoute("/ws", self._ws),
        ]

    async def _gate(self, request: Request) -> Response | None:
        method, path = request.method, request.url.path
        self.calls.append((method, path))
        for fault in list(self.faults):
            if (fault.method in (None, method)) and (
                fault.path is None or path.startswith(fault.path)
            ):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                code = "RATE_LIMITED" if fault.status == 429 else "INTERNAL_ERROR"
                message = "Demasiadas solicitudes" if fault.status == 429 else "Error interno"
                return JSONResponse(
                    {"success": False, "error": {"code": code, "message": message}},
                    status_code=fault.status,
                    headers=headers,
                )
        for hook in list(self.before):
            if hook[0] == method and path.startswith(hook[1]):
                self.before.remove(hook)
                await hook[2]()
        return None

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def _staff(
        self, handler: Callable[[Request, User], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            refused = await self._gate(request)
            if refused is not None:
                return refused
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return fail(401, "UNAUTHORIZED", "Token no proporcionado")
            claims = self._verify(header[7:])
            if claims is None:
                return fail(401, "UNAUTHORIZED", "Token inválido o expirado")
            user = next((u for u in self.users.values() if u.id == claims["sub"]), None)
            if user is None:
                return fail(401, "UNAUTHORIZED", "Token inválido o expirado")
            branch = request.headers.get("x-branch-id") or request.query_params.get("branchId")
            if not branch:
                return fail(
                    400, "BAD_REQUEST", "Se requiere x-branch-id header o branchId query param"
                )
            if branch not in user.branches:
                return fail(403, "FORBIDDEN", "No tienes acceso a esta sucursal")
            try:
                return await handler(request, user)
            except Refusal as refusal:
                return refusal.response

        return endpoint

    # ------------------------------------------------------------------ auth

    async def _login(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        body = await request.json()
        password = body.get("password")
        if not isinstance(password, str) or len(password) < 8:
            return zod(["password"], "String must contain at least 8 character(s)")
        user = self.users.get(str(body.get("email", "")).strip().lower())
        if user is None or user.password != password:
            return fail(401, "UNAUTHORIZED", "Credenciales inválidas")
        self.logins += 1
        tokens = self._issue(user)
        public = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "organizationId": self.org_id,
            "branches": user.branches,
        }
        return ok({"user": public, **tokens})

    async def _refresh(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        token = (await request.json()).get("refreshToken")
        user_id = self.refresh_tokens.pop(token, None) if isinstance(token, str) else None
        user = next((u for u in self.users.values() if u.id == user_id), None)
        if user is None:
            return fail(401, "UNAUTHORIZED", "Refresh token inválido")
        self.refreshes += 1
        return ok(self._issue(user))

    async def _logout(self, request: Request) -> Response:
        token = (await request.json()).get("refreshToken")
        user_id = self.refresh_tokens.get(token)
        for key in [k for k, v in self.refresh_tokens.items() if v == user_id]:
            del self.refresh_tokens[key]
        return ok({"message": "Sesión cerrada"})

    # ---------------------------------------------------------------- tables

    async def _get_branch(self, request: Request, user: User) -> Response:
        if request.path_params["id"] != self.branch_id:
            return fail(403, "FORBIDDEN", "No tienes acceso a esta sucursal")
        return ok(self.branch)

    def _live_sessions(self, table_id: str) -> list[Json]:
        live = [
            s
            for s in self.sessions.values()
            if s["table_id"] == table_id and s["status"] in ("active", "pending")
        ]
        live.sort(key=lambda s: s["started_at"], reverse=True)
        live.sort(key=lambda s: 0 if s["status"] == "active" else 1)
        return live

    def _paid(self, order_id: str) -> int:
        return sum(p["amount"] for p in self.payments if p["order_id"] == order_id)

    def _session_summary(self, table_id: str) -> Json | None:
        live = self._live_sessions(table_id)
        if not live:
            return None
        orders = [
            o
            for o in self.orders.values()
            if o["table_session_id"] in {s["id"] for s in live} and o["status"] != "cancelled"
        ]
        billed = sum(o["total"] for o in orders)
        paid = sum(self._paid(o["id"]) for o in orders)
        first = live[0]
        return {
            "session_id": first["id"],
            "customer_name": first["customer_name"],
            "status": first["status"],
            "started_at": first["started_at"],
            "guest_count": first["guest_count"],
            "elapsed_minutes": 0,
            "order_count": len(orders),
            "billed": billed,
            "paid": paid,
            "remaining": max(0, billed - paid),
        }

    async def _list_tables(self, request: Request, user: User) -> Response:
        rows = [
            {**t, "active_session": self._session_summary(t["id"])} for t in self.tables.values()
        ]
        return ok({"tables": rows, "branchSlug": "principal"})

    def _table_or_404(self, table_id: str, message: str = "Mesa no encontrada") -> Json:
        table = self.tables.get(table_id)
        if table is None:
            raise Refusal(fail(404, "NOT_FOUND", message))
        return table

    async def _get_table(self, request: Request, user: User) -> Response:
        table = self._table_or_404(request.path_params["id"])
        return ok({**table, "branch_slug": "principal"})

    async def _active_session(self, request: Request, user: User) -> Response:
        live = self._live_sessions(request.path_params["id"])
        if not live:
            return ok(
                {
                    "session": None,
                    "orders": [],
                    "totals": {"total": 0, "total_paid": 0, "remaining": 0},
                }
            )
        ids = {s["id"] for s in live}
        orders = sorted(
            (
                o
                for o in self.orders.values()
                if o["table_session_id"] in ids and o["status"] != "cancelled"
            ),
            key=lambda o: o["created_at"],
            reverse=True,
        )
        out = []
        for order in orders:
            paid = self._paid(order["id"])
            remaining = max(0, order["total"] - paid)
            items = [
                {
                    "id": i["id"],
                    "order_id": i["order_id"],
                    "name": i["name"],
                    "quantity": i["quantity"],
                    "total": i["total"],
                    "paid_at": i["paid_at"],
                    "status": i["status"],
                    "cancel_reason": i["cancel_reason"],
                    "paid": i["paid_at"] is not None,
                    "share": i["total"],
                }
                for i in self.items.values()
                if i["order_id"] == order["id"]
            ]
            out.append(
                {
                    "id": order["id"],
                    "order_number": order["order_number"],
                    "status": order["status"],
                    "total": order["total"],
                    "subtotal": order["subtotal"],
                    "created_at": order["created_at"],
                    "total_paid": paid,
                    "remaining": remaining,
                    "payment_status": "unpaid"
                    if paid <= 0
                    else ("partial" if remaining > 0 else "paid"),
                    "items": items,
                }
            )
        billed = sum(o["total"] for o in orders)
        paid = sum(o["total_paid"] for o in out)
        session = {
            k: live[0][k] for k in ("id", "customer_name", "customer_phone", "status", "started_at")
        }
        return ok(
            {
                "session": session,
                "orders": out,
                "totals": {"total": billed, "total_paid": paid, "remaining": max(0, billed - paid)},
            }
        )

    async def _free(self, request: Request, user: User) -> Response:
        table = self._table_or_404(request.path_params["id"])
        return ok(await self.free_hook(table["number"]))

    # ------------------------------------------------------------------ menu

    async def _menu_items(self, request: Request, user: User) -> Response:
        rows = [
            {**m, "modifier_group_count": len(self.item_groups.get(m["id"], []))}
            for m in self.menu.values()
            if m["deleted_at"] is None
        ]
        return ok(sorted(rows, key=lambda m: (m["sort_order"], m["name"])))

    async def _modifier_groups(self, request: Request, user: User) -> Response:
        return ok(list(self.groups.values()))

    # ---------------------------------------------------------------- orders

    def _order_row(self, order: Json) -> Json:
        session = self.sessions.get(order["table_session_id"] or "")
        table = self.tables.get(session["table_id"]) if session else None
        live = [
            i
            for i in self.items.values()
            if i["order_id"] == order["id"] and i["status"] != "cancelled"
        ]
        paid = self._paid(order["id"])
        waiter = next((u.name for u in self.users.values() if u.id == order["created_by"]), None)
        return {
            **order,
            "item_count": len(live),
            "total_paid": paid,
            "table_number": table["number"] if table else None,
            "waiter_name": waiter,
            "payment_status": "paid"
            if paid >= order["total"] > 0
            else ("partial" if paid > 0 else "unpaid"),
        }

    async def _list_orders(self, request: Request, user: User) -> Response:
        query = request.query_params
        rows = list(self.orders.values())
        scope = query.get("scope")
        if scope == "open":
            rows = [o for o in rows if o["status"] not in ("completed", "cancelled")]
        elif scope == "closed":
            rows = [o for o in rows if o["status"] in ("completed", "cancelled")]
        if query.get("status"):
            rows = [o for o in rows if o["status"] == query["status"]]
        if query.get("from"):
            since = datetime.fromisoformat(query["from"].replace("Z", "+00:00"))
            rows = [
                o
                for o in rows
                if datetime.fromisoformat(o["created_at"].replace("Z", "+00:00")) >= since
            ]
        full = [self._order_row(o) for o in rows]
        if query.get("q"):
            q = query["q"].lower()
            digits = "".join(ch for ch in q if ch.isdigit())
            full = [
                o
                for o in full
                if q in o["order_number"].lower()
                or q in (o["customer_name"] or "").lower()
                or (digits and o["table_number"] == int(digits))
            ]
        if scope == "open":
            full.sort(key=lambda o: o["status_changed_at"])
        else:
            full.sort(key=lambda o: o["created_at"], reverse=True)
        limit = min(int(query.get("limit", "20")), 300)
        page = int(query.get("page", "1"))
        return JSONResponse(
            {
                "success": True,
                "data": full[(page - 1) * limit : page * limit],
                "pagination": {"page": page, "limit": limit, "total": len(full)},
            }
        )

    def _validate_items(self, items: Any, *, max_items: int | None = None) -> JSONResponse | None:
        if not isinstance(items, list) or not items:
            return zod(["items"], "La orden debe tener al menos un item")
        if max_items is not None and len(items) > max_items:
            return zod(["items"], f"Array must contain at most {max_items} element(s)")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                return zod(["items", index], "Expected object")
            quantity = item.get("quantity")
            if not isinstance(quantity, int) or not 1 <= quantity <= 99:
                return zod(["items", index, "quantity"], "Invalid quantity")
            notes = item.get("notes")
            if notes is not None and (not isinstance(notes, str) or js_len(notes) > 500):
                return zod(
                    ["items", index, "notes"], "String must contain at most 500 character(s)"
                )
        return None

    def _price_lines(self, items: list[Json]) -> list[Json]:
        """RestAI's validarYPreciarLineas: first failure wins, in request order."""
        lines = []
        for item in items:
            menu = self.menu.get(item["menuItemId"])
            if menu is None or menu["deleted_at"] is not None:
                raise Refusal(fail(400, "BAD_REQUEST", f"Item no encontrado: {item['menuItemId']}"))
            if not menu["is_available"]:
                raise Refusal(fail(400, "BAD_REQUEST", f"Item no disponible: {menu['name']}"))
            linked = self.item_groups.get(menu["id"], [])
            counts: dict[str, int] = {}
            mods = []
            for ref in item.get("modifiers") or []:
                found = next(
                    (
                        (g, m)
                        for g in self.groups.values()
                        for m in g["modifiers"]
                        if m["id"] == ref["modifierId"]
                    ),
                    None,
                )
                if found is None:
                    raise Refusal(
                        fail(400, "BAD_REQUEST", f"Modificador no encontrado: {ref['modifierId']}")
                    )
                group, mod = found
                if not mod["is_available"]:
                    raise Refusal(
                        fail(400, "BAD_REQUEST", f"Modificador no disponible: {mod['name']}")
                    )
                if group["id"] not in linked:
                    raise Refusal(
                        fail(
                            400,
                            "BAD_REQUEST",
                            f'Modificador inválido para "{menu["name"]}": {mod["name"]}',
                        )
                    )
                counts[group["id"]] = counts.get(group["id"], 0) + 1
                mods.append(mod)
            for group_id in linked:
                group = self.groups[group_id]
                need = (
                    max(group["min_selections"], 1)
                    if group["is_required"]
                    else group["min_selections"]
                )
                got = counts.get(group_id, 0)
                if got < need:
                    raise Refusal(
                        fail(
                            400,
                            "BAD_REQUEST",
                            f'Selección insuficiente de modificadores para "{menu["name"]}"',
                        )
                    )
                if group["max_selections"] > 0 and got > group["max_selections"]:
                    raise Refusal(
                        fail(
                            400,
                            "BAD_REQUEST",
                            f'Demasiados modificadores seleccionados para "{menu["name"]}"',
                        )
                    )
            unit = menu["price"]
            total = (unit + sum(m["price"] for m in mods)) * item["quantity"]
            lines.append(
                {
                    "menu": menu,
                    "quantity": item["quantity"],
                    "notes": item.get("notes"),
                    "unit_price": unit,
                    "total": total,
                    "mods": mods,
                }
            )
        return lines

    def _insert_lines(self, order: Json, lines: list[Json]) -> list[Json]:
        created = []
        for line in lines:
            row = {
                "id": str(uuid.uuid4()),
                "order_id": order["id"],
                "menu_item_id": line["menu"]["id"],
                "name": line["menu"]["name"],
                "unit_price": line["unit_price"],
                "quantity": line["quantity"],
                "total": line["total"],
                "notes": line["notes"],
                "status": "pending",
                "paid_at": None,
                "cancelled_at": None,
                "cancel_reason": None,
                "cancelled_by": None,
            }
            self.items[row["id"]] = row
            for mod in line["mods"]:
                self.item_mods.append(
                    {
                        "id": str(uuid.uuid4()),
                        "order_item_id": row["id"],
                        "modifier_id": mod["id"],
                        "name": mod["name"],
                        "price": mod["price"],
                    }
                )
            created.append(row)
        return created

    def _reprice(self, order: Json) -> None:
        live = [
            i
            for i in self.items.values()
            if i["order_id"] == order["id"] and i["status"] != "cancelled"
        ]
        order["subtotal"] = sum(i["total"] for i in live)
        order["discount"] = min(order["discount"], order["subtotal"])
        base = order["subtotal"] - order["discount"]
        order["tax"] = round(base * self.branch["tax_rate"] / 10000)
        order["total"] = base + order["tax"] + order["delivery_fee"]
        order["updated_at"] = _now()

    def _staff_session(self, table: Json) -> tuple[Json, list[Json]]:
        """RestAI's resolveStaffTableSession: reuse (promote) the live visit or open one."""
        events: list[Json] = []
        live = self._live_sessions(table["id"])
        if live:
            session = live[0]
            session["status"] = "active"
        else:
            session = {
                "id": str(uuid.uuid4()),
                "table_id": table["id"],
                "customer_name": f"Mesa {table['number']}",
                "customer_phone": None,
                "guest_count": None,
                "status": "active",
                "started_at": _now(),
                "ended_at": None,
            }
            self.sessions[session["id"]] = session
            events.append(
                self._event(
                    "session:started",
                    {
                        "sessionId": session["id"],
                        "tableId": table["id"],
                        "tableNumber": table["number"],
                        "customerName": session["customer_name"],
                    },
                )
            )
        if table["status"] != "occupied":
            table["status"] = "occupied"
            events.append(
                self._event(
                    "table:status",
                    {"tableId": table["id"], "number": table["number"], "status": "occupied"},
                )
            )
        return session, events

    def make_order(
        self,
        session: Json | None,
        lines: list[Json],
        *,
        created_by: str | None,
        notes: str | None = None,
    ) -> tuple[Json, list[Json]]:
        now = _now()
        order = {
            "id": str(uuid.uuid4()),
            "organization_id": self.org_id,
            "branch_id": self.branch_id,
            "table_session_id": session["id"] if session else None,
            "customer_id": None,
            "order_number": f"261121-{len(self.orders) + 1:04d}",
            "type": "dine_in",
            "status": "pending",
            "customer_name": None,
            "subtotal": 0,
            "tax": 0,
            "discount": 0,
            "total": 0,
            "notes": notes or None,
            "delivery_fee": 0,
            "created_by": created_by,
            "created_at": now,
            "status_changed_at": now,
            "updated_at": now,
        }
        self.orders[str(order["id"])] = order
        created = self._insert_lines(order, lines)
        self._reprice(order)
        return order, created

    async def _create_order(self, request: Request, user: User) -> Response:
        body = await request.json()
        invalid = self._validate_items(body.get("items"))
        if invalid is not None:
            return invalid
        notes = body.get("notes")
        if notes is not None and js_len(notes) > 500:
            return zod(["notes"], "String must contain at most 500 character(s)")
        table = self._table_or_404(str(body.get("tableId")), "Mesa no encontrada en esta sede")
        lines = self._price_lines(body["items"])  # before any state change: nothing to undo
        session, events = self._staff_session(table)
        order, created = self.make_order(session, lines, created_by=user.id, notes=notes)
        events.append(self._order_new(order, created, table))
        await self.broadcast(*events)
        return ok({**order, "items": created, "table_number": table["number"]}, 201)

    def _order_new(self, order: Json, created: list[Json], table: Json | None) -> Json:
        return self._event(
            "order:new",
            {
                "orderId": order["id"],
                "orderNumber": order["order_number"],
                "status": order["status"],
                "tableSessionId": order["table_session_id"],
                "tableNumber": table["number"] if table else None,
                "items": [
                    {
                        "id": i["id"],
                        "name": i["name"],
                        "quantity": i["quantity"],
                        "status": i["status"],
                        "notes": i["notes"],
                    }
                    for i in created
                ],
            },
        )

    def _order_or_404(self, order_id: str) -> Json:
        order = self.orders.get(order_id)
        if order is None:
            raise Refusal(fail(404, "NOT_FOUND", "Orden no encontrada"))
        return order

    async def _get_order(self, request: Request, user: User) -> Response:
        order = self._order_or_404(request.path_params["id"])
        items = sorted(
            (i for i in self.items.values() if i["order_id"] == order["id"]), key=lambda i: i["id"]
        )
        row = self._order_row(order)
        return ok(
            {
                **order,
                "table_number": row["table_number"],
                "waiter_name": row["waiter_name"],
                "items": [
                    {
                        **i,
                        "modifiers": [
                            {
                                "order_item_id": m["order_item_id"],
                                "name": m["name"],
                                "price": m["price"],
                            }
                            for m in self.item_mods
                            if m["order_item_id"] == i["id"]
                        ],
                    }
                    for i in items
                ],
                "payments": [p for p in self.payments if p["order_id"] == order["id"]],
                "total_paid": self._paid(order["id"]),
            }
        )

    async def _append_items(self, request: Request, user: User) -> Response:
        body = await request.json()
        invalid = self._validate_items(body.get("items"), max_items=60)
        if invalid is not None:
            return invalid
        order = self._order_or_404(request.path_params["id"])
        if order["status"] in ("completed", "cancelled"):
            message = (
                "Esta cuenta está anulada: no admite más platos."
                if order["status"] == "cancelled"
                else "Esta cuenta ya se cobró. Abre una nueva para seguir pidiendo."
            )
            return fail(409, "CONFLICT", message)
        added = self._insert_lines(order, self._price_lines(body["items"]))
        self._reprice(order)
        await self.broadcast(
            self._event(
                "order:updated",
                {
                    "orderId": order["id"],
                    "orderNumber": order["order_number"],
                    "status": order["status"],
                    "addedItems": len(added),
                    "total": order["total"],
                },
            )
        )
        return ok({**order, "added": added})

    async def _order_status(self, request: Request, user: User) -> Response:
        body = await request.json()
        order = self._order_or_404(request.path_params["id"])
        await self.order_status_hook(order["id"], body["status"], body.get("reason"), user.id)
        return ok(order)

    async def _item_status(self, request: Request, user: User) -> Response:
        body = await request.json()
        order = self._order_or_404(request.path_params["id"])
        item = self.items.get(request.path_params["item"])
        if item is None or item["order_id"] != order["id"]:
            return fail(404, "NOT_FOUND", "Item no encontrado")
        await self.item_status_hook(item["id"], body["status"], body.get("reason"), user.id)
        return ok(item)

    async def _kitchen_cancel(self, request: Request, user: User) -> Response:
        reason = (await request.json()).get("reason")
        if not isinstance(reason, str) or not 3 <= len(reason) <= 500:
            return zod(["reason"], "String must contain at least 3 character(s)")
        order = self._order_or_404(request.path_params["id"])
        item = self.items.get(request.path_params["item"])
        if item is None or item["order_id"] != order["id"]:
            return fail(404, "NOT_FOUND", "Item no encontrado")
        await self.kitchen_cancel_hook(item["id"], reason)
        return ok(item)

    async def _pay(self, request: Request, user: User) -> Response:
        body = await request.json()
        return ok(self.pay_hook(body["orderId"], int(body["amount"])), 201)

    # ------------------------------------------------------ restaurant hooks

    async def staff_order_hook(
        self,
        number: int,
        items: list[Json],
        *,
        email: str = "mesero@restai.pe",
        notes: str | None = None,
    ) -> Json:
        """A waiter sends a round to table ``number`` (what the POS screen does)."""
        table = self.table(number)
        lines = self._price_lines(items)
        session, events = self._staff_session(table)
        order, created = self.make_order(
            session, lines, created_by=self.user(email).id, notes=notes
        )
        events.append(self._order_new(order, created, table))
        await self.broadcast(*events)
        return order

    async def diner_order_hook(self, number: int, items: list[Json]) -> Json:
        """A QR diner orders (customer token: created_by is null); needs an active visit."""
        table = self.table(number)
        live = [s for s in self._live_sessions(table["id"]) if s["status"] == "active"]
        if not live:
            raise AssertionError("403 SESSION_ENDED: Tu sesión ha finalizado")
        order, created = self.make_order(live[0], self._price_lines(items), created_by=None)
        await self.broadcast(self._order_new(order, created, table))
        return order

    async def pending_session_hook(self, number: int) -> Json:
        """A QR diner asks to sit (pending session, awaiting approval)."""
        table = self.table(number)
        session = {
            "id": str(uuid.uuid4()),
            "table_id": table["id"],
            "customer_name": "Ana",
            "customer_phone": None,
            "guest_count": 2,
            "status": "pending",
            "started_at": _now(),
            "ended_at": None,
        }
        self.sessions[session["id"]] = session
        await self.broadcast(
            self._event(
                "session:pending",
                {
                    "sessionId": session["id"],
                    "tableId": table["id"],
                    "tableNumber": table["number"],
                    "customerName": "Ana",
                },
            )
        )
        return session

    async def order_status_hook(
        self, order_id: str, status: str, reason: str | None = None, actor: str | None = None
    ) -> None:
        order = self.orders[order_id]
        if status not in ORDER_TRANSITIONS[order["status"]]:
            raise Refusal(
                fail(400, "BAD_REQUEST", f'No se puede cambiar de "{order["status"]}" a "{status}"')
            )
        order["status"] = status
        order["status_changed_at"] = order["updated_at"] = _now()
        released = []
        for item in self.items.values():
            if item["order_id"] != order_id or item["status"] == "cancelled":
                continue
            if status == "cancelled" and item["paid_at"] is None:
                item.update(
                    status="cancelled",
                    cancelled_at=_now(),
                    cancel_reason=reason or "Orden anulada",
                    cancelled_by=actor,
                )
                released.append(
                    {"id": item["id"], "name": item["name"], "quantity": item["quantity"]}
                )
            elif status in ITEM_CASCADE:
                item["status"] = ITEM_CASCADE[status]
        payload: Json = {
            "orderId": order_id,
            "orderNumber": order["order_number"],
            "status": status,
        }
        if status == "cancelled":
            payload.update(reason=reason, releasedItems=released)
        await self.broadcast(
            self._event("order:cancelled" if status == "cancelled" else "order:updated", payload)
        )

    async def item_status_hook(
        self, item_id: str, status: str, reason: str | None = None, actor: str | None = None
    ) -> None:
        item = self.items[item_id]
        if status not in ITEM_TRANSITIONS[item["status"]]:
            raise Refusal(
                fail(400, "BAD_REQUEST", f'No se puede cambiar de "{item["status"]}" a "{status}"')
            )
        order = self.orders[item["order_id"]]
        if status == "cancelled":
            item.update(
                status="cancelled",
                cancelled_at=_now(),
                cancel_reason=reason or "Producto anulado",
                cancelled_by=actor,
            )
            if not self._paid(order["id"]):
                self._reprice(order)
        else:
            item["status"] = status  # the order row is NOT touched (no updated_at change)
        await self.broadcast(
            self._event(
                "order:item_status",
                {
                    "orderId": order["id"],
                    "orderNumber": order["order_number"],
                    "item": {
                        "id": item["id"],
                        "name": item["name"],
                        "quantity": item["quantity"],
                        "status": item["status"],
                    },
                },
            )
        )

    async def kitchen_cancel_hook(self, item_id: str, reason: str = "Se acabó") -> None:
        item = self.items[item_id]
        order = self.orders[item["order_id"]]
        item.update(status="cancelled", cancelled_at=_now(), cancel_reason=reason)
        self._reprice(order)
        everything_cancelled = all(
            i["status"] == "cancelled" for i in self.items.values() if i["order_id"] == order["id"]
        )
        if everything_cancelled:  # RestAI cancels the order with its last line ("todoAnulado")
            order["status"] = "cancelled"
            order["status_changed_at"] = _now()
        await self.broadcast(
            self._event(
                "order:item_cancelled",
                {
                    "orderId": order["id"],
                    "orderNumber": order["order_number"],
                    "item": {
                        "id": item["id"],
                        "name": item["name"],
                        "quantity": item["quantity"],
                        "status": "cancelled",
                    },
                    "reason": reason,
                    "orderStatus": order["status"],
                    "totals": {k: order[k] for k in ("subtotal", "discount", "tax", "total")},
                },
            )
        )
        if everything_cancelled:
            await self.broadcast(
                self._event(
                    "order:cancelled",
                    {"orderId": order["id"], "orderNumber": order["order_number"]},
                )
            )

    def pay_hook(self, order_id: str, amount: int) -> Json:
        """A payment: capped at what remains; sends NO event (as RestAI)."""
        order = self.orders[order_id]
        amount = min(amount, max(0, order["total"] - self._paid(order_id)))
        payment = {
            "id": str(uuid.uuid4()),
            "order_id": order_id,
            "method": "cash",
            "amount": amount,
            "tip": 0,
            "status": "completed",
            "voided_at": None,
            "created_at": _now(),
        }
        self.payments.append(payment)
        return {
            **payment,
            "order_total": order["total"],
            "total_paid": self._paid(order_id),
            "order_completed": False,
        }

    def discount_hook(self, order_id: str, amount: int) -> None:
        order = self.orders[order_id]
        order["discount"] = amount
        self._reprice(order)

    async def free_hook(self, number: int) -> Json:
        """``POST /api/tables/:id/free``: complete open orders, close visits, free the table."""
        table = self.table(number)
        live = self._live_sessions(table["id"])
        ids = {s["id"] for s in live}
        completed = 0
        for order in self.orders.values():
            if order["table_session_id"] in ids and order["status"] not in (
                "completed",
                "cancelled",
            ):
                order["status"] = "completed"
                order["status_changed_at"] = order["updated_at"] = _now()
                completed += 1
                for item in self.items.values():
                    if item["order_id"] == order["id"] and item["status"] != "cancelled":
                        item["status"] = "served"
        for session in live:
            session["status"] = "completed" if session["status"] == "active" else "rejected"
            session["ended_at"] = _now()
        table["status"] = "available"
        await self.broadcast(
            self._event(
                "table:status", {"tableId": table["id"], "number": number, "status": "available"}
            ),
            self._event("session:ended", {"tableId": table["id"], "tableNumber": number}),
        )
        return {"tableId": table["id"], "completedOrders": completed, "forgivenAmount": 0}

    # ------------------------------------------------------------- websocket

    def _event(self, event_type: str, payload: Json) -> Json:
        return {"type": event_type, "payload": payload, "timestamp": int(time.time() * 1000)}

    async def broadcast(self, *messages: Json, room: str | None = None) -> None:
        target = room or f"branch:{self.branch_id}"
        for client in list(self.clients.values()):
            if target in client.rooms:
                for message in messages:
                    with contextlib.suppress(Exception):
                        await client.socket.send_text(json.dumps(message))

    async def _ws(self, socket: WebSocket) -> None:
        claims = self._verify(socket.query_params.get("token", ""))
        if claims is None:
            self.ws_refused += 1
            await socket.close(code=1008)  # before accept: uvicorn answers HTTP 403
            return
        await socket.accept()
        client = Client(
            socket, int(claims["exp"]), {f"branch:{b}" for b in claims.get("branches", [])}
        )
        self.clients[id(socket)] = client
        self.ws_accepted += 1
        await socket.send_text(
            json.dumps(
                {
                    "type": "auth:success",
                    "userId": claims["sub"],
                    "timestamp": int(time.time() * 1000),
                }
            )
        )
        await self._notify()
        try:
            while True:
                message = json.loads(await socket.receive_text())
                if message.get("type") == "ping":
                    await socket.send_text(json.dumps({"type": "pong"}))
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass
        finally:
            self.clients.pop(id(socket), None)
            await self._notify()

    async def _evict_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ws_check_interval)
            await self.expire_sockets(only_expired=True)

    async def expire_sockets(self, *, only_expired: bool = False) -> None:
        """RestAI's heartbeat: ``auth:expired`` then close 4001 (all sockets if forced)."""
        now = time.time()
        for key, client in list(self.clients.items()):
            if only_expired and client.exp >= now:
                continue
            with contextlib.suppress(Exception):
                await client.socket.send_text(
                    json.dumps({"type": "auth:expired", "message": "Token expired"})
                )
                await client.socket.close(code=4001, reason="Token expired")
            self.clients.pop(key, None)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (bounded) until ``predicate()`` holds; re-checked on every socket change."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)
