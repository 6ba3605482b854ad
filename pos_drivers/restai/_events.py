"""RestAI's branch events, turned into "this table may have changed".

Events name what they concern in various ways (``tableId``, ``fromTableId``/``toTableId``,
``tableNumber``, ``number``, ``orderId``, ``tableSessionId``, ``sessionId``...), so the
payload is searched for every such key, nested ones included. An order or session id is
mapped to its table from what reads have shown (``Sightings``); an order id never seen
is looked up with ``GET /api/orders/:id`` (its ``table_number``).

- ``order:*``, ``session:*``, ``table:status`` and ``payment:*`` concern checks. Both
  ``order:item_status`` (status ``cancelled``) and ``order:item_cancelled`` are line
  cancellations; for the driver they are, like every other event, a reason to re-read.
- Service requests (call waiter, request bill), ``menu:availability``, ``pong`` and
  unknown types change no check and are ignored.
- A staff socket hears every branch of the account: an order RestAI does not know in
  our branch (404), a table not in our branch, or an order without a table (takeout) is
  ignored.
- When an event that concerns a check cannot be routed (a lookup failed), the answer is
  ``PushEvent(None)``: the adapter re-reads every watched table.
- Only tables the adapter has asked about are announced, under the names it used.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from pos_drivers._errors import PosError
from pos_drivers._models import PushEvent
from pos_drivers.restai._checks import Sightings
from pos_drivers.restai._client import RestaiApiError
from pos_drivers.restai._tables import TableDirectory

logger = logging.getLogger("pos_drivers.restai")

_CHECK_EVENTS = ("order:", "session:", "payment:")
_TABLE_ID_KEYS = frozenset({"tableId"})
_TABLE_NUMBER_KEYS = frozenset({"tableNumber"})
_SESSION_KEYS = frozenset({"tableSessionId", "sessionId"})

OrderLookup = Callable[[str], Awaitable[Mapping[str, Any]]]


def concerns_checks(event_type: str) -> bool:
    return event_type == "table:status" or event_type.startswith(_CHECK_EVENTS)


def _walk(payload: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _walk(value)


def _is_table_id_key(key: str) -> bool:
    return key in _TABLE_ID_KEYS or key.endswith("TableId")


def _is_table_number_key(key: str) -> bool:
    return key in _TABLE_NUMBER_KEYS or key.endswith("TableNumber")


def _is_session_key(key: str) -> bool:
    return key in _SESSION_KEYS or key.endswith("SessionId")


class EventMapper:
    """Maps one decoded WebSocket message to the PushEvents it implies."""

    def __init__(
        self,
        directory: TableDirectory,
        sightings: Sightings,
        lookup_order: OrderLookup,
    ) -> None:
        self._directory = directory
        self._sightings = sightings
        self._lookup_order = lookup_order

    async def map(self, message: Mapping[str, Any]) -> list[PushEvent]:
        event_type = message.get("type")
        if not isinstance(event_type, str) or not concerns_checks(event_type):
            return []
        if not self._directory.aliased_tables():
            return []  # the adapter watches nothing yet: no lookups for nobody
        payload = message.get("payload")
        try:
            table_ids = await self._tables_in(event_type, payload)
        except (PosError, RestaiApiError) as exc:
            logger.info("could not route RestAI event %s (%s): resynchronising", event_type, exc)
            return [PushEvent(None)]
        events: list[PushEvent] = []
        for table_id in sorted(table_ids):
            events.extend(PushEvent(alias) for alias in sorted(self._directory.aliases(table_id)))
        return events

    async def _tables_in(self, event_type: str, payload: Any) -> set[str]:
        found: set[str] = set()
        orders: set[str] = set()
        for key, value in _walk(payload):
            if _is_table_id_key(key) and isinstance(value, str):
                found.update(await self._known_table(value))
            elif _is_table_number_key(key) or (key == "number" and event_type == "table:status"):
                found.update(self._table_by_number(value))
            elif _is_session_key(key) and isinstance(value, str):
                table = self._sightings.table_of_session(value)
                if table is not None:
                    found.add(table)
            elif key == "orderId" and isinstance(value, str):
                orders.add(value)
        for order_id in sorted(orders):
            found.update(await self._table_of_order(order_id))
        return found

    async def _known_table(self, table_id: str) -> set[str]:
        table = self._directory.by_id(table_id) or await self._directory.find(table_id)
        return {table.id} if table is not None and table.id == table_id else set()

    def _table_by_number(self, value: Any) -> set[str]:
        if not isinstance(value, int):
            return set()
        table = self._directory.by_number(value)
        return {table.id} if table is not None else set()

    async def _table_of_order(self, order_id: str) -> set[str]:
        known = self._sightings.table_of_order(order_id)
        if known is not None:
            return {known}
        try:
            order = await self._lookup_order(order_id)
        except RestaiApiError as exc:
            if exc.status == 404:
                return set()  # another branch's order
            raise PosError(f"order lookup refused: {exc.detail}") from None
        number = order.get("table_number")
        table = self._directory.by_number(number) if isinstance(number, int) else None
        if table is None:
            return set()
        self._sightings.order(order_id, table.id)
        return {table.id}
