"""The RestAI driver: the adapter's ``PosDriver`` on top of RestAI's staff API.

Submissions: one RestAI order per call of :meth:`RestaiDriver.add_lines`, created with
``POST /api/orders`` and the table: RestAI hangs it on the table's live visit (or opens
one), the way its own POS screen sends each round of a table. That call takes any
number of lines in one transaction, so a submission (up to 100 items) is applied all or
nothing; RestAI's limit of 60 lines applies only to appending to an existing order
(``POST /api/orders/:id/items``), which the driver never does. The lines carry the
adapter's references in their notes (see ``_markers``), so :meth:`find_lines` and every
snapshot recognise them, even after a crash.

Before creating the order the driver checks every line against the branch menu
(unknown, not available, price differs from the diner's) and rejects them all at once;
RestAI validates again and its own refusals are mapped (``_mapping.submission_error``).
RestAI prices lines itself: if a price changed between the check and the order, the
driver cancels the order it just created and rejects the lines whose price moved
(PRICE_CHANGED with the new price); the undone order stays on RestAI as ``cancelled``,
with the reason ``_markers.UNDO_REASON``, and counts for nothing. The same undo runs
when the visit the adapter expected was closed under its feet and the order landed on
a new visit (OrderClosed); a visit that the undone order had opened is freed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast

import httpx

from pos_drivers._base import DriverConfig, PosDriver
from pos_drivers._errors import (
    DuplicateReference,
    ItemReason,
    ItemRejection,
    ItemsRejected,
    OrderClosed,
    PosBusinessError,
    PosError,
    PosUnavailable,
    TableNotFound,
    TableUnavailable,
)
from pos_drivers._http import segment
from pos_drivers._models import (
    AddedLines,
    Capability,
    ChangedTables,
    NewLine,
    PosCheck,
    PosLine,
    PosProduct,
    PushEvent,
)
from pos_drivers._settings import DriverSettings
from pos_drivers.restai._auth import TokenManager
from pos_drivers.restai._checks import CheckReader, Sightings, Visit
from pos_drivers.restai._client import RestaiApiError, RestaiClient, Transport
from pos_drivers.restai._config import RestaiSettings
from pos_drivers.restai._events import EventMapper
from pos_drivers.restai._mapping import (
    api_error,
    build_check,
    line_from_item,
    lines_of,
    order_sort_key,
    recognised_prefix,
    submission_error,
)
from pos_drivers.restai._markers import UNDO_REASON, MarkerTooLong, mark_submission
from pos_drivers.restai._poll import ChangeTracker
from pos_drivers.restai._tables import TableDirectory, TableInfo
from pos_drivers.restai._ws import PushStream, ws_url

logger = logging.getLogger("pos_drivers.restai")

Row = Mapping[str, Any]

FIND_WINDOW = timedelta(hours=36)
"""How far back :meth:`RestaiDriver.find_lines` looks (covers "today" in Lima, UTC-5)."""

_PAGE = 300


class RestaiDriver(PosDriver):
    """RestAI (EijunnN/restai) through its staff REST API and branch WebSocket."""

    name: ClassVar[str] = "restai"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.ADD_LINES,
            Capability.PUSH_CHANGES,
            Capability.BATCH_CHANGES,
            Capability.EXTERNAL_REFS,
        }
    )

    settings_model: ClassVar[type[DriverSettings]] = RestaiSettings

    def __init__(self, config: DriverConfig, settings: RestaiSettings | None = None) -> None:
        super().__init__(config, settings)
        settings = self._settings = cast(RestaiSettings, self.settings)
        self._base_url = config.pos_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            timeout=config.request_timeout,
            headers={"accept": "application/json", "user-agent": "pos-adapter-restai"},
        )
        transport = Transport(self._http, max_inline_wait=settings.max_inline_wait)
        self._auth = TokenManager(
            transport, settings.email, settings.password.get_secret_value()
        )
        self._client = RestaiClient(transport, self._auth)
        self._tables = TableDirectory(
            self._client, refresh_interval=settings.table_refresh_interval
        )
        self._sightings = Sightings()
        self._reader = CheckReader(self._client, self._sightings)
        self._tracker = ChangeTracker(
            self._client,
            self._tables,
            self._reader,
            deep_interval=settings.deep_poll_interval,
        )
        self._mapper = EventMapper(self._tables, self._sightings, self._reader.fetch_order)
        self._stream = PushStream(
            ws_url(self._base_url),
            self._auth,
            self._mapper,
            prepare=self._ensure_ready,
            open_timeout=max(config.request_timeout, 1.0),
            backoff_initial=settings.ws_backoff_initial,
            backoff_max=settings.ws_backoff_max,
        )
        self._currency = "PEN"
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._menu_names: dict[str, str] = {}
        self._modifier_names: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"RestaiDriver(url={self._base_url!r}, branch={self._client.branch_id!r})"

    @property
    def stream(self) -> PushStream:
        """The WebSocket stream, for health reporting."""
        return self._stream

    # -- lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        """Log in and learn the branch; RestAI being down here is not fatal (lazy retry)."""
        try:
            await self._ensure_ready()
        except PosUnavailable as exc:
            logger.warning("RestAI not ready at start (%s); will retry on first use", exc.message)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _ensure_ready(self) -> None:
        """Log in, pick the branch, read its currency and tables, once."""
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            await self._auth.access_token()
            branch = self._settings.branch_id or next(iter(self._auth.branches), None)
            if not branch:
                raise PosUnavailable("the RestAI account has no branch")
            self._client.branch_id = branch
            try:
                self._currency = await self._branch_currency(branch)
                await self._tables.refresh()
            except RestaiApiError as exc:
                raise api_error(exc) from None
            self._ready = True

    async def _branch_currency(self, branch: str) -> str:
        data = await self._client.get(f"/api/branches/{segment(branch)}")
        currency = data.get("currency") if isinstance(data, Mapping) else None
        return currency if isinstance(currency, str) and currency else "PEN"

    # -- reads ---------------------------------------------------------------------

    async def read_check(self, table_id: str) -> PosCheck:
        await self._ensure_ready()
        try:
            table = await self._tables.resolve(table_id)
            visit = await self._reader.visit(table)
            if visit.session is None:
                table = await self._current_table(table, allow_maintenance=False)
            visit_id = visit.open_id
            orders: list[Row] = []
            if visit_id is not None and visit.session is not None:
                orders = await self._reader.full_orders(visit.summaries)
                orders += await self._reader.cancelled_orders(table, visit.session)
        except RestaiApiError as exc:
            raise api_error(exc) from None
        return build_check(table_id, table, visit_id, orders, self._currency, self._auth.user_id)

    async def _current_table(self, table: TableInfo, *, allow_maintenance: bool) -> TableInfo:
        """The table as RestAI has it now: TableNotFound if deleted, maintenance refused."""
        try:
            row = await self._client.get(f"/api/tables/{segment(table.id)}")
        except RestaiApiError as exc:
            if exc.status == 404:
                self._tables.forget(table.id)
                raise TableNotFound(
                    f"RestAI no longer has table {table.number}", pos_detail=exc.detail
                ) from None
            raise
        current = TableInfo.from_row(row) if isinstance(row, Mapping) else table
        if current.status == "maintenance" and not allow_maintenance:
            raise TableUnavailable(
                f"{current.name} is in maintenance on RestAI", pos_detail="maintenance"
            )
        return current

    async def list_products(self) -> Mapping[str, PosProduct]:
        await self._ensure_ready()
        try:
            rows = await self._client.get("/api/menu/items")
        except RestaiApiError as exc:
            raise api_error(exc) from None
        products: dict[str, PosProduct] = {}
        for row in rows if isinstance(rows, list) else ():
            if not isinstance(row, Mapping) or row.get("deleted_at"):
                continue
            product = PosProduct(
                product_id=str(row["id"]),
                name=str(row.get("name") or ""),
                price=int(row.get("price") or 0),
                available=bool(row.get("is_available")),
                stock=None,
            )
            products[product.product_id] = product
        self._menu_names = {p.product_id: p.name for p in products.values()}
        return products

    # -- submissions -----------------------------------------------------------------

    async def add_lines(
        self, table_id: str, expected_order_id: str | None, lines: Sequence[NewLine]
    ) -> AddedLines:
        if not lines:
            raise PosBusinessError("a submission needs at least one line")
        await self._ensure_ready()
        try:
            table = await self._tables.resolve(table_id)
            table = await self._current_table(table, allow_maintenance=False)
            before = await self._reader.visit(table)
        except RestaiApiError as exc:
            raise api_error(exc) from None
        if expected_order_id is not None and before.open_id != expected_order_id:
            raise OrderClosed(f"the check {expected_order_id} is no longer open on {table.name}")
        self._precheck(lines, await self.list_products())
        try:
            marks = mark_submission(
                [line.external_ref for line in lines], [line.notes for line in lines]
            )
        except MarkerTooLong as exc:
            raise PosBusinessError(str(exc)) from None
        await self._refuse_duplicates(table, lines)
        created = await self._create_order(table, lines, marks.order_notes, marks.line_notes)
        visit_id = str(created.get("table_session_id") or "")
        if expected_order_id is not None and visit_id != expected_order_id:
            await self._undo(created, table, before)
            raise OrderClosed(f"the check {expected_order_id} closed while the order was sent")
        added = await self._added_lines(created, lines)
        moved = [
            i
            for i, (line, pos) in enumerate(zip(lines, added, strict=True))
            if pos.unit_price != line.unit_price
        ]
        if moved:
            await self._reject_moved_prices(created, table, before, added, moved)
        return AddedLines(order_id=visit_id, lines=added)

    def _precheck(self, lines: Sequence[NewLine], products: Mapping[str, PosProduct]) -> None:
        """Every menu problem of the submission at once (RestAI stops at the first)."""
        rejections: list[ItemRejection] = []
        for index, line in enumerate(lines):
            product = products.get(line.product_id)
            if product is None:
                rejections.append(
                    ItemRejection(index, ItemReason.UNKNOWN_PRODUCT, "not on the RestAI menu")
                )
            elif not product.available:
                rejections.append(
                    ItemRejection(index, ItemReason.DELISTED, f"{product.name} is not available")
                )
            elif product.price != line.unit_price:
                rejections.append(
                    ItemRejection(
                        index,
                        ItemReason.PRICE_CHANGED,
                        f"the price of {product.name} is now {product.price}",
                        current_unit_price=product.price,
                    )
                )
        if rejections:
            raise ItemsRejected(
                f"{len(rejections)} item(s) cannot be ordered on RestAI",
                rejections=tuple(rejections),
            )

    async def _refuse_duplicates(self, table: TableInfo, lines: Sequence[NewLine]) -> None:
        """DuplicateReference when an open order of the table already carries a reference."""
        refs = {line.external_ref for line in lines if line.external_ref}
        if not refs:
            return
        try:
            rows = await self._client.get(
                "/api/orders", {"scope": "open", "q": str(table.number), "limit": _PAGE}
            )
            existing = [
                line
                for line in await self._marked_lines(rows, lambda prefix: _overlaps(prefix, refs))
                if line.external_ref in refs
            ]
        except RestaiApiError as exc:
            raise api_error(exc) from None
        if existing:
            raise DuplicateReference(
                f"{len(existing)} line(s) of this submission are already on RestAI",
                existing=tuple(existing),
            )

    async def _create_order(
        self,
        table: TableInfo,
        lines: Sequence[NewLine],
        order_notes: str,
        line_notes: Sequence[str | None],
    ) -> Row:
        items: list[dict[str, Any]] = []
        for line, notes in zip(lines, line_notes, strict=True):
            item: dict[str, Any] = {"menuItemId": line.product_id, "quantity": line.quantity}
            if notes:
                item["notes"] = notes
            if line.modifier_ids:
                item["modifiers"] = [{"modifierId": m} for m in line.modifier_ids]
            items.append(item)
        body = {"tableId": table.id, "type": "dine_in", "notes": order_notes, "items": items}
        try:
            created = await self._client.post("/api/orders", body)
        except RestaiApiError as exc:
            if exc.status == 404:
                self._tables.forget(table.id)
            if exc.status == 400 and exc.message.startswith("Modificador no disponible"):
                await self._load_modifier_names()
            raise submission_error(
                exc, lines, self._menu_names.get, self._modifier_names.get
            ) from None
        if not isinstance(created, Mapping) or not created.get("id"):
            raise PosUnavailable("RestAI's answer to the new order has no order")
        self._sightings.order(str(created["id"]), table.id)
        if created.get("table_session_id"):
            self._sightings.session(str(created["table_session_id"]), table.id)
        return created

    async def _load_modifier_names(self) -> None:
        try:
            groups = await self._client.get("/api/menu/modifier-groups")
        except (RestaiApiError, PosError):
            return
        for group in groups if isinstance(groups, list) else ():
            for modifier in group.get("modifiers") or () if isinstance(group, Mapping) else ():
                if isinstance(modifier, Mapping) and modifier.get("id"):
                    self._modifier_names[str(modifier["id"])] = str(modifier.get("name") or "")

    async def _added_lines(self, created: Row, lines: Sequence[NewLine]) -> tuple[PosLine, ...]:
        """The created lines, in the order asked for, as every later read will show them."""
        order = created
        if any(line.modifier_ids for line in lines):
            # The creation answer has no modifiers; the full order has them.
            try:
                full = await self._reader.fetch_order(str(created["id"]))
            except RestaiApiError as exc:
                raise api_error(exc) from None
            by_id = {str(item["id"]): item for item in full.get("items") or ()}
            items = [by_id.get(str(item["id"]), item) for item in created.get("items") or ()]
            order = {**created, "items": items}
        prefix = recognised_prefix(order, self._auth.user_id)
        made = [line_from_item(item, prefix) for item in order.get("items") or ()]
        by_ref = {line.external_ref: line for line in made if line.external_ref}
        result: list[PosLine] = []
        for index, line in enumerate(lines):
            found = by_ref.get(line.external_ref) if line.external_ref else None
            if found is None and index < len(made):
                found = made[index]
            if found is None:
                raise PosUnavailable("RestAI's answer lacks some of the new lines")
            result.append(found)
        return tuple(result)

    async def _reject_moved_prices(
        self,
        created: Row,
        table: TableInfo,
        before: Visit,
        added: Sequence[PosLine],
        moved: Sequence[int],
    ) -> None:
        """A price changed between the menu check and the order: undo, then reject.

        If the undo fails the lines stay (at RestAI's price) and are returned as added:
        the adapter sees their unit prices.
        """
        if not await self._undo(created, table, before):
            logger.warning(
                "RestAI priced %d line(s) differently and could not be undone", len(moved)
            )
            return
        raise ItemsRejected(
            "RestAI's price changed while the order was sent",
            rejections=tuple(
                ItemRejection(
                    index=i,
                    reason=ItemReason.PRICE_CHANGED,
                    message=f"the price is now {added[i].unit_price}",
                    current_unit_price=added[i].unit_price,
                )
                for i in moved
            ),
        )

    async def _undo(self, created: Row, table: TableInfo, before: Visit) -> bool:
        """Cancel an order this call created; free a visit it opened. Best effort."""
        order_id = str(created["id"])
        try:
            await self._client.patch(
                f"/api/orders/{segment(order_id)}/status",
                {"status": "cancelled", "reason": UNDO_REASON},
            )
        except (RestaiApiError, PosError) as exc:
            logger.warning("could not undo RestAI order %s: %s", order_id, exc)
            return False
        session_id = created.get("table_session_id")
        opened = session_id and (before.session is None or before.session.get("id") != session_id)
        if opened:
            try:
                after = await self._reader.visit(table)
                same = after.session is not None and after.session.get("id") == session_id
                if same and not after.summaries:
                    await self._client.post(f"/api/tables/{segment(table.id)}/free")
            except (RestaiApiError, PosError) as exc:
                logger.warning("could not free %s after an undo: %s", table.name, exc)
        return True

    # -- reconciliation ------------------------------------------------------------

    async def find_lines(self, table_id: str, ref_prefix: str) -> tuple[PosLine, ...]:
        """Lines whose reference starts with ``ref_prefix``, on orders of the last 36 h.

        The search is by reference, not by table: a waiter may have moved the visit to
        another table since, and the lines are still the submission's. Orders the driver
        undid itself are skipped; lines cancelled on RestAI are returned (CANCELLED).
        """
        await self._ensure_ready()
        since = (datetime.now(UTC) - FIND_WINDOW).isoformat(timespec="seconds")
        found: list[PosLine] = []
        try:
            await self._tables.resolve(table_id)
            page = 1
            while True:
                rows = await self._client.get(
                    "/api/orders", {"from": since, "limit": _PAGE, "page": page}
                )
                batch = rows if isinstance(rows, list) else []
                found.extend(
                    await self._marked_lines(batch, lambda prefix: _overlaps(prefix, {ref_prefix}))
                )
                if len(batch) < _PAGE:
                    break
                page += 1
        except RestaiApiError as exc:
            raise api_error(exc) from None
        seen: set[str] = set()
        result: list[PosLine] = []
        for line in found:
            ref = line.external_ref
            if ref is not None and ref.startswith(ref_prefix) and ref not in seen:
                seen.add(ref)
                result.append(line)
        return tuple(result)

    async def _marked_lines(self, rows: Any, wanted: Callable[[str], bool]) -> list[PosLine]:
        """Recognised lines of the orders in ``rows`` whose marker prefix is ``wanted``."""
        user = self._auth.user_id
        lines: list[PosLine] = []
        listed = rows if isinstance(rows, list) else []
        candidates = [
            row
            for row in listed
            if isinstance(row, Mapping)
            and (prefix := recognised_prefix(row, user)) is not None
            and wanted(prefix)
        ]
        for row in sorted(candidates, key=order_sort_key):
            order = await self._reader.fetch_order(str(row["id"]))
            if _undone(order):
                continue
            lines.extend(line for line in lines_of([order], user) if line.external_ref)
        return lines

    # -- changes -------------------------------------------------------------------

    async def changes_since(self, cursor: str | None) -> ChangedTables:
        await self._ensure_ready()
        try:
            return await self._tracker.changes_since(cursor)
        except RestaiApiError as exc:
            raise api_error(exc) from None

    async def push_events(self) -> AsyncGenerator[PushEvent, None]:
        """The branch WebSocket's announcements (see ``_ws``); ``aclose()`` it to stop."""
        async for event in self._stream.events():
            yield event


def _overlaps(prefix: str, refs: set[str]) -> bool:
    """Whether an order whose marker prefix is ``prefix`` may hold one of ``refs``."""
    return any(ref.startswith(prefix) or prefix.startswith(ref) for ref in refs)


def _undone(order: Row) -> bool:
    return order.get("status") == "cancelled" and any(
        isinstance(item, Mapping) and item.get("cancel_reason") == UNDO_REASON
        for item in order.get("items") or ()
    )
