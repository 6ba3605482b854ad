"""``changes_since``: which tables changed, by comparing fingerprints of list calls.

RestAI has no change feed, no ``updated_since`` filter and no webhooks. Each poll:

1. ``GET /api/tables``: per table its status and live-visit summary (session, order
   count, billed, paid, remaining). This catches tables opened, freed, moved, merged,
   and payments (which RestAI announces on no socket).
2. ``GET /api/orders?scope=open&limit=300``: per open order its status, ``updated_at``,
   ``status_changed_at``, line count, total and amount paid. This catches new orders,
   lines added, order status changes, repricing, payments.
3. At most every ``deep_poll_interval`` seconds, for the tables the adapter asked about
   that have a live visit: ``GET /api/tables/:id/active-session``, whose lines carry
   their status. Line-status changes (kitchen progress, a line cancelled) touch no
   order row that 1 and 2 see; the WebSocket announces them at once, this is the net
   under it.

What the poll cannot see: nothing else changes on a RestAI line after creation
(notes, modifiers and prices are snapshots), so nothing is missed beyond step 3's
delay. Only tables the adapter asked about are reported, under the names it used.

The cursor is opaque: ``<instance>:<generation>``. The driver keeps the fingerprints of
its last few generations; an unknown cursor (another process, or too old) raises
CursorExpired, and ``None`` answers every table the adapter asked about.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from pos_drivers._errors import CursorExpired
from pos_drivers._models import ChangedTables
from pos_drivers.restai._checks import CheckReader, summary_fingerprint
from pos_drivers.restai._client import RestaiClient
from pos_drivers.restai._tables import TableDirectory

Row = Mapping[str, Any]
Fingerprints = dict[str, tuple[Any, ...]]

_KEPT_GENERATIONS = 8
_SESSION_KEYS = (
    "session_id",
    "status",
    "customer_name",
    "guest_count",
    "order_count",
    "billed",
    "paid",
    "remaining",
)
_ORDER_KEYS = (
    "id",
    "status",
    "updated_at",
    "status_changed_at",
    "item_count",
    "total",
    "total_paid",
    "table_session_id",
)


def table_fingerprint(row: Row) -> tuple[Any, ...]:
    """A table row's status and visit summary, without the ever-growing elapsed minutes."""
    session = row.get("active_session")
    summary = (
        tuple(session.get(key) for key in _SESSION_KEYS) if isinstance(session, Mapping) else None
    )
    return (row.get("status"), summary)


class ChangeTracker:
    """Polls RestAI's lists and tells which tables' fingerprints moved."""

    def __init__(
        self,
        client: RestaiClient,
        directory: TableDirectory,
        reader: CheckReader,
        *,
        deep_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._directory = directory
        self._reader = reader
        self._deep_interval = deep_interval
        self._clock = clock
        self._instance = secrets.token_hex(4)
        self._generation = 0
        self._history: OrderedDict[int, Fingerprints] = OrderedDict()
        self._deep: dict[str, tuple[Any, ...]] = {}
        self._last_deep: float | None = None

    async def changes_since(self, cursor: str | None) -> ChangedTables:
        base = None if cursor is None else self._known(cursor)
        current = await self._fingerprints()
        self._generation += 1
        self._history[self._generation] = current
        while len(self._history) > _KEPT_GENERATIONS:
            self._history.popitem(last=False)
        if base is None:
            changed = set(self._directory.aliased_tables())
        else:
            changed = {t for t in set(base) | set(current) if base.get(t) != current.get(t)}
        names = {alias for table_id in changed for alias in self._directory.aliases(table_id)}
        return ChangedTables(
            table_ids=frozenset(names), cursor=f"{self._instance}:{self._generation}"
        )

    def _known(self, cursor: str) -> Fingerprints:
        instance, _, generation = cursor.partition(":")
        if instance == self._instance and generation.isdigit():
            known = self._history.get(int(generation))
            if known is not None:
                return known
        raise CursorExpired(f"the RestAI driver does not know cursor {cursor!r}")

    async def _fingerprints(self) -> Fingerprints:
        rows = await self._directory.refresh()
        orders = await self._client.get("/api/orders", {"scope": "open", "limit": 300})
        by_number: dict[int, list[tuple[Any, ...]]] = {}
        for order in orders if isinstance(orders, list) else ():
            number = order.get("table_number") if isinstance(order, Mapping) else None
            if isinstance(number, int):
                by_number.setdefault(number, []).append(tuple(order.get(k) for k in _ORDER_KEYS))
        await self._maybe_deep(rows)
        prints: Fingerprints = {}
        for row in rows:
            table_id = str(row["id"])
            number = row.get("number")
            prints[table_id] = (
                table_fingerprint(row),
                tuple(
                    sorted(by_number.get(number, []) if isinstance(number, int) else [], key=repr)
                ),
                self._deep.get(table_id),
            )
        return prints

    async def _maybe_deep(self, rows: list[dict[str, Any]]) -> None:
        """Re-read the line statuses of asked-about occupied tables, now and then."""
        now = self._clock()
        if self._last_deep is not None and now - self._last_deep < self._deep_interval:
            return
        self._last_deep = now
        asked = self._directory.aliased_tables()
        deep: dict[str, tuple[Any, ...]] = {}
        for row in rows:
            table = self._directory.by_id(str(row["id"]))
            if table is None or table.id not in asked or not row.get("active_session"):
                continue
            visit = await self._reader.visit(table)
            deep[table.id] = tuple(
                sorted((summary_fingerprint(s) for s in visit.summaries), key=repr)
            )
        self._deep = deep
