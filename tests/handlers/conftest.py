"""The handlers without a broker: the dispatcher over a real store (a SQLite file, or
PostgreSQL where a test asks for ``store_url``'s second parameter), the real mock POS
application served in-process through ``httpx.ASGITransport`` (as httpx's MockTransport
is to its transports), and the ``mock`` driver over it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapter.store import OutboxRow, SqlStore
from adapter.testing import command
from handlers import Dispatcher, Disposition, HandlerContext, SnapshotHandler, TableLocks
from handlers.submission import SubmissionHandler
from handlers.watcher import Watcher
from pos_drivers import DriverConfig
from pos_drivers.mock import MockDriver, MockPosControl, create_app
from pos_drivers.mock._server import MockPos, mock_pos_of
from schemas import MessageType

LOCATION = "here"
POS_URL = "http://mock-pos"


class CountingTransport(httpx.ASGITransport):
    """The in-process mock POS, counting the POS API requests that reach it."""

    def __init__(self, app: Starlette) -> None:
        super().__init__(app=app)
        self.requests: list[str] = []
        self._watchers: list[asyncio.Future[None]] = []

    def next_request(self) -> asyncio.Future[None]:
        """Resolved when the next request reaches the POS."""
        future = asyncio.get_running_loop().create_future()
        self._watchers.append(future)
        return future

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        watchers, self._watchers = self._watchers, []
        for future in watchers:
            if not future.done():
                future.set_result(None)
        return await super().handle_async_request(request)


@dataclass
class Harness:
    """One location's handlers over a store and the in-process mock POS."""

    store: SqlStore
    ctx: HandlerContext
    dispatcher: Dispatcher
    watcher: Watcher
    pos: MockPosControl
    mock: MockPos
    transport: CountingTransport
    published: list[OutboxRow] = field(default_factory=list)

    async def dispatch(self, body: bytes, **kwargs: Any) -> Disposition:
        return await self.dispatcher.dispatch(body, redelivered=False, **kwargs)

    async def send(self, message_type: str, payload: dict[str, Any],
                   **envelope: Any) -> tuple[Disposition, str]:
        """Dispatch a command; (its disposition, its messageId)."""
        envelope.setdefault("location_id", LOCATION)
        envelope.setdefault("message_id", str(uuid.uuid4()))
        body = json.dumps(command(message_type, payload, **envelope)).encode()
        return await self.dispatch(body), envelope["message_id"]

    def results_for(self, message_id: str) -> list[dict[str, Any]]:
        """The bodies published in answer to ``message_id``."""
        bodies = [json.loads(row.message.body) for row in self.published]
        return [body for body in bodies if body.get("correlationId") == message_id
                and not body["messageType"].endswith("Changed")]

    def result_for(self, message_id: str) -> dict[str, Any]:
        [result] = self.results_for(message_id)
        payload: dict[str, Any] = result["payload"]
        return payload

    def changes(self) -> list[dict[str, Any]]:
        bodies = [json.loads(row.message.body) for row in self.published]
        return [b["payload"] for b in bodies if b["messageType"] == "TableOrderSnapshotChanged"]

    def pos_api_requests(self) -> list[str]:
        return [r for r in self.transport.requests if "/_control/" not in r]


MakeHarness = Callable[..., Any]


@contextlib.asynccontextmanager
async def open_harness(
    store_url: str, *, pos_deadline: float = 2.0, driver_class: type[MockDriver] = MockDriver,
    atomic: bool = False,
) -> AsyncIterator[Harness]:
    app = create_app()
    transport = CountingTransport(app)
    store = SqlStore(store_url)
    await store.start()
    driver = driver_class(DriverConfig(pos_url=POS_URL, request_timeout=5.0),
                          transport=transport)
    pos = MockPosControl(POS_URL, transport=transport)
    try:
        await driver.open()
        ctx = HandlerContext(location_id=LOCATION, store=store, driver=driver,
                             locks=TableLocks(), pos_deadline=pos_deadline)
        watcher = Watcher(ctx)
        ctx.listener = watcher
        dispatcher = Dispatcher(ctx, {
            MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED: SnapshotHandler(ctx),
            MessageType.ORDER_SUBMISSION_REQUESTED: SubmissionHandler(ctx, atomic=atomic),
        })
        harness = Harness(store, ctx, dispatcher, watcher, pos, mock_pos_of(app), transport)
        store.on_outbox(harness.published.extend)
        yield harness
    finally:
        await pos.aclose()
        await driver.aclose()
        await store.close()


@pytest.fixture
async def make_harness(tmp_path: Path) -> AsyncIterator[MakeHarness]:
    """``await make_harness(pos_deadline=..., driver_class=..., store_url=...)``."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(*, store_url: str | None = None, **options: Any) -> Harness:
            url = store_url or f"sqlite+aiosqlite:///{tmp_path / 'adapter.db'}"
            return await stack.enter_async_context(open_harness(url, **options))

        yield make


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    made: Harness = await make_harness()
    return made


def submission(table: str, items: list[dict[str, Any]], *, submission_id: str | None = None,
               session: str = "s-1") -> dict[str, Any]:
    return {
        "submissionId": submission_id or f"sub-{uuid.uuid4().hex[:8]}",
        "orderContext": {"type": "TABLE", "posTableId": table, "tableSessionId": session},
        "items": items,
    }


def item(line_id: str, product: str = "ceviche", price: int = 3500,
         quantity: int = 1) -> dict[str, Any]:
    return {"lineId": line_id, "productId": product, "quantity": quantity, "unitPrice": price}
