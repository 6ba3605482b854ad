"""Reading a table's visit from RestAI, in as few calls as stay correct.

RestAI's check summary (``GET /api/tables/:id/active-session``) lists the visit's
non-cancelled orders and their lines' ids, statuses, quantities and totals, but not
their unit prices, notes or modifiers; ``GET /api/orders/:id`` has everything. A line's
menu item, name, unit price, notes and modifiers never change once the line exists
(RestAI only updates a line's status and payment), so a full order is fetched again
only when its summary (status, totals, payments, lines) differs from the one it was
fetched with. Every read still asks RestAI for the summary: a snapshot is never served
from a cache alone.

The summary leaves cancelled orders out; an open visit's are listed with one more call
(``cancelled_orders``) and, being final, fetched in full only once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pos_drivers._http import segment
from pos_drivers.restai._client import RestaiClient
from pos_drivers.restai._mapping import open_visit_id
from pos_drivers.restai._tables import TableInfo

Row = Mapping[str, Any]

_CACHE_SIZE = 2000


@dataclass(frozen=True, slots=True)
class Visit:
    """A table's live visit as RestAI summarises it."""

    session: Row | None
    summaries: tuple[Row, ...]

    @property
    def open_id(self) -> str | None:
        return open_visit_id(self.session, self.summaries)


def summary_fingerprint(summary: Row) -> tuple[Any, ...]:
    """What can change on an order after creation, as the summary shows it."""
    items = tuple(
        sorted(
            (
                str(item.get("id")),
                str(item.get("status")),
                item.get("quantity"),
                item.get("total"),
                item.get("paid_at"),
            )
            for item in summary.get("items") or ()
            if isinstance(item, Mapping)
        )
    )
    return (
        summary.get("status"),
        summary.get("subtotal"),
        summary.get("total"),
        summary.get("total_paid"),
        items,
    )


class Sightings:
    """Which table an order or a session was last seen on (to route push events)."""

    def __init__(self) -> None:
        self._orders: OrderedDict[str, str] = OrderedDict()
        self._sessions: OrderedDict[str, str] = OrderedDict()

    def order(self, order_id: str, table_id: str) -> None:
        _remember(self._orders, order_id, table_id)

    def session(self, session_id: str, table_id: str) -> None:
        _remember(self._sessions, session_id, table_id)

    def table_of_order(self, order_id: str) -> str | None:
        return self._orders.get(order_id)

    def table_of_session(self, session_id: str) -> str | None:
        return self._sessions.get(session_id)


def _remember(store: OrderedDict[str, str], key: str, value: str) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > _CACHE_SIZE:
        store.popitem(last=False)


class CheckReader:
    """Reads visits and full orders, caching full orders by summary fingerprint."""

    def __init__(self, client: RestaiClient, sightings: Sightings) -> None:
        self._client = client
        self._sightings = sightings
        self._orders: OrderedDict[str, tuple[tuple[Any, ...], Row]] = OrderedDict()

    async def visit(self, table: TableInfo) -> Visit:
        """``GET /api/tables/:id/active-session``: the live session and its orders."""
        data = await self._client.get(f"/api/tables/{segment(table.id)}/active-session")
        session = data.get("session") if isinstance(data, dict) else None
        orders = data.get("orders") if isinstance(data, dict) else None
        summaries = tuple(o for o in orders or () if isinstance(o, Mapping))
        if isinstance(session, Mapping) and session.get("id"):
            self._sightings.session(str(session["id"]), table.id)
        for summary in summaries:
            self._sightings.order(str(summary["id"]), table.id)
        return Visit(session if isinstance(session, Mapping) else None, summaries)

    async def full_orders(self, summaries: Sequence[Row]) -> list[Row]:
        """The full orders behind ``summaries``, fetched only when they changed."""
        return [await self._full_order(summary) for summary in summaries]

    async def _full_order(self, summary: Row) -> Row:
        order_id = str(summary["id"])
        fingerprint = summary_fingerprint(summary)
        cached = self._orders.get(order_id)
        if cached is not None and cached[0] == fingerprint:
            self._orders.move_to_end(order_id)
            return cached[1]
        order = await self.fetch_order(order_id)
        self._orders[order_id] = (fingerprint, order)
        while len(self._orders) > _CACHE_SIZE:
            self._orders.popitem(last=False)
        return order

    async def cancelled_orders(self, table: TableInfo, session: Row) -> list[Row]:
        """The visit's cancelled orders, which the check summary leaves out.

        ``GET /api/orders?status=cancelled&q=<number>&from=<visit start>`` (one call); a
        cancelled order never changes again, so each is fetched in full once.
        """
        params: dict[str, str | int] = {"status": "cancelled", "q": str(table.number)}
        params["limit"] = 300
        started = session.get("started_at")
        if isinstance(started, str) and started:
            params["from"] = started
        rows = await self._client.get("/api/orders", params)
        session_id = session.get("id")
        found: list[Row] = []
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, Mapping) and row.get("table_session_id") == session_id:
                found.append(await self._full_order({"id": row["id"], "status": "cancelled"}))
        return found

    async def fetch_order(self, order_id: str) -> Row:
        """``GET /api/orders/:id``, uncached."""
        data = await self._client.get(f"/api/orders/{segment(order_id)}")
        if not isinstance(data, Mapping):
            return {"id": order_id, "items": []}
        return data
