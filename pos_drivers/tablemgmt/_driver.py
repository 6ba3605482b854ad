"""The ``tablemgmt`` driver: a POS's Table Management API (``/api/v1/tables``) read-only.

- Reads: ``GET /api/v1/tables/{id}``; the table's embedded order is the check (the
  answer's shapes are assumptions, all in ``_mapping``).
- Changes: one ``GET /api/v1/outlets/{outlet}/tables/occupied`` per ``changes_since``
  call whatever the number of watched tables; a table is reported when its entry
  (``order_id``, embedded order) differs from the previous poll, or left the list. The
  previous poll's entries are kept in the driver under the cursor it returned.
- Submissions: the API cannot add items to an order, so the driver lacks ADD_LINES and
  the adapter answers NOT_SUPPORTED without calling it.

Errors: connection errors, timeouts, 5xx, 429 and unreadable answers -> PosUnavailable;
404 (and 400, an id the POS cannot parse) on a table -> TableNotFound; 401 -> the token
is re-read and the request sent once more, then PosUnavailable; 403 -> AccessDenied
(a PosUnavailable naming the role needed), which ``open()`` raises as StartRefused so
that the adapter refuses to start with a token that can never work.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping, Sequence, Set
from typing import Any, ClassVar, NoReturn

import httpx

from pos_drivers._base import DriverConfig, PosDriver
from pos_drivers._errors import (
    CursorExpired,
    NotSupported,
    PosBusinessError,
    PosError,
    PosUnavailable,
    StartRefused,
    TableNotFound,
)
from pos_drivers._http import PosHttpClient, PosResponse, pos_http_client, segment
from pos_drivers._models import (
    AddedLines,
    Capability,
    ChangedTables,
    NewLine,
    PosCheck,
    PosProduct,
)
from pos_drivers.tablemgmt._auth import TokenSource
from pos_drivers.tablemgmt._mapping import (
    MalformedAnswer,
    Occupied,
    check_of,
    error_of,
    loads,
    occupied_tables,
    table_page,
    table_state,
)
from pos_drivers.tablemgmt._settings import ENV_PREFIX, TableMgmtSettings
from pos_drivers.tablemgmt._tables import TableDirectory, Target

logger = logging.getLogger("pos_drivers.tablemgmt")

API = "/api/v1"
ROLE_NEEDED = "the Table Management API needs a token with the admin or manager role"
_KEPT_POLLS = 4
_MAX_PAGES = 1000


class AccessDenied(PosUnavailable):
    """The POS refused the token's role (403): a PosUnavailable once running (the token
    file may be replaced), a StartRefused from ``open()``."""


class TableMgmtDriver(PosDriver):
    """Driver for a POS that exposes the Table Management API (see ``docs/tablemgmt.md``)."""

    name: ClassVar[str] = "tablemgmt"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BATCH_CHANGES})
    settings_model: ClassVar[type[TableMgmtSettings]] = TableMgmtSettings
    settings: TableMgmtSettings

    def __init__(
        self,
        config: DriverConfig,
        settings: TableMgmtSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``settings`` None: from ``POS_ADAPTER_TABLEMGMT_*``; ``transport`` replaces the
        network (tests of answers the imitation never gives)."""
        super().__init__(config, settings)
        own = self.settings
        token = own.token.get_secret_value() if own.token is not None else None
        self._tokens = TokenSource(token=token, path=own.token_file)
        self._transport = transport
        self._client: PosHttpClient | None = None
        self._tables = TableDirectory(refresh_seconds=own.table_refresh_seconds)
        self._loading = asyncio.Lock()
        self._polls: OrderedDict[str, dict[str, Occupied]] = OrderedDict()
        self._instance = secrets.token_hex(4)
        self._generations = itertools.count(1)
        self._warned: set[str] = set()
        self._refused_token: str | None = None

    def __repr__(self) -> str:
        return f"TableMgmtDriver(url={self.config.pos_url!r}, outlet={self.settings.outlet_id!r})"

    @property
    def _http(self) -> PosHttpClient:
        if self._client is None:
            self._client = pos_http_client(
                self.config.pos_url,
                timeout=self.config.request_timeout,
                transport=self._transport,
                headers={"Accept": "application/json", "User-Agent": "pos-adapter-tablemgmt"},
            )
        return self._client

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Read the outlet's tables. A POS that is down is retried on first use; a token
        whose role is refused (403) raises StartRefused."""
        try:
            await self._load_tables()
        except AccessDenied as exc:
            await self.aclose()  # the caller gives up on this driver: nothing left open
            raise StartRefused(exc.message, pos_detail=exc.pos_detail) from exc
        except PosError as exc:
            logger.warning("Table Management API not ready at start (%s); retrying on use",
                           exc.message)
            return
        if self._tables.is_empty():
            logger.warning("outlet %s has no tables on the POS: check %sOUTLET_ID",
                           self.settings.outlet_id, ENV_PREFIX)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- HTTP ------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, params: Mapping[str, str | int] | None, token: str
    ) -> PosResponse:
        try:
            return await self._http.request(
                method, path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise PosUnavailable(f"cannot reach the POS ({exc!r})") from exc
        except httpx.TimeoutException as exc:
            raise PosUnavailable(f"the POS did not answer in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise PosUnavailable(f"cannot reach the POS ({exc!r})") from exc

    async def _request(
        self, method: str, path: str, params: Mapping[str, str | int] | None = None
    ) -> PosResponse:
        """One request with the current token; on a 401, once more if the token changed."""
        token = self._tokens.current()
        response = await self._send(method, path, params, token)
        if response.status_code == 401 and self._tokens.reread():
            token = self._tokens.current()
            response = await self._send(method, path, params, token)
        if response.status_code == 401:
            self._token_refused(token, response)
        if response.status_code == 403:
            error, message = error_of(response.content)
            raise AccessDenied(f"{ROLE_NEEDED} (403: {message or error})", pos_detail=error)
        self._refused_token = None
        return response

    def _token_refused(self, token: str, response: PosResponse) -> NoReturn:
        source = f"{ENV_PREFIX}TOKEN_FILE ({self._tokens.path})" if self._tokens.path else (
            f"{ENV_PREFIX}TOKEN"
        )
        error, message = error_of(response.content)
        text = (f"the POS refused the token (401: {message or error}); "
                f"put a valid admin or manager token in {source}")
        if token != self._refused_token:  # once per token, not at every poll
            self._refused_token = token
            logger.error(text)
        raise PosUnavailable(text, pos_detail=error)

    async def _get(
        self, path: str, params: Mapping[str, str | int] | None = None, *, table: bool = False
    ) -> Any:
        """The answer's JSON, or the mapped error; ``table``: a 404 is TableNotFound."""
        response = await self._request("GET", path, params)
        if response.is_success:
            try:
                return loads(response.content)
            except MalformedAnswer as exc:
                raise PosUnavailable(f"the POS answered {path} unreadably: {exc}") from None
        _raise_for(response, table=table)

    # -- tables ----------------------------------------------------------------------

    async def _load_tables(self, *, unless_after: int | None = None) -> None:
        """Re-read the outlet's table list, every page; skipped when the list was loaded
        again since generation ``unless_after`` (concurrent misses read it once)."""
        async with self._loading:
            if unless_after is not None and self._tables.generation > unless_after:
                return
            tables: list[tuple[str, str]] = []
            page, pages = 1, 1
            while page <= min(pages, _MAX_PAGES):
                params: dict[str, str | int] = {
                    "outlet_id": self.settings.outlet_id,
                    "page": page,
                    "limit": self.settings.page_size,
                }
                try:
                    listed = table_page(await self._get(f"{API}/tables", params))
                except MalformedAnswer as exc:
                    raise PosUnavailable(f"the POS's table list is unreadable: {exc}") from None
                tables.extend(listed.tables)
                pages = listed.total_pages
                page += 1
            self._tables.replace(tables)

    async def _resolve(self, alias: str, *, fresh: bool) -> Target:
        """The table ``alias`` names; ``fresh``: from a list read now."""
        if fresh:
            await self._load_tables()
        target = self._tables.lookup(alias)
        if target is None and not fresh and self._tables.may_refresh():
            await self._load_tables(unless_after=self._tables.generation)
            target = self._tables.lookup(alias)
        if target is None:
            raise TableNotFound(f"outlet {self.settings.outlet_id} has no table {alias!r}")
        return target

    async def read_check(self, table_id: str) -> PosCheck:
        """The table named ``table_id`` (its id or name) and its open check.

        A name is checked against the table read: one that no longer names it (renamed,
        deleted) re-reads the table list once before TableNotFound.
        """
        for fresh in (False, True):
            target = await self._resolve(table_id, fresh=fresh)
            try:
                table = await self._get(f"{API}/tables/{segment(target.table_id)}", table=True)
            except TableNotFound:
                self._tables.forget(target.table_id)
                if target.by_name and not fresh:
                    continue
                raise
            if not isinstance(table, Mapping):
                raise PosUnavailable("the POS answered a table that is not a JSON object")
            renamed = target.by_name and table.get("table_name") not in (None, table_id)
            elsewhere = table.get("outlet_id") not in (None, self.settings.outlet_id)
            if renamed or elsewhere:
                if not fresh:
                    continue
                raise TableNotFound(f"outlet {self.settings.outlet_id} has no table {table_id!r}")
            self._tables.remember(table_id, target.table_id)
            return self._check(table, table_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, table: Mapping[str, Any], table_id: str) -> PosCheck:
        _, odd_status = table_state(table)
        self._warn_unknown({odd_status} if odd_status is not None else set())
        try:
            reading = check_of(table, table_id=table_id, default_currency=self.settings.currency)
        except MalformedAnswer as exc:
            raise PosUnavailable(f"the POS's table {table_id!r} is unreadable: {exc}") from None
        self._warn_unknown(reading.unknown_statuses)
        return reading.check

    def _warn_unknown(self, statuses: Set[str]) -> None:
        for status in statuses - self._warned:
            self._warned.add(status)
            logger.warning("unknown status %r on the POS (see pos_drivers.tablemgmt._mapping "
                           "A5/A8): read as PENDING for an item, unavailable for a table", status)

    # -- what the API cannot do ------------------------------------------------------

    async def list_products(self) -> Mapping[str, PosProduct]:
        raise NotSupported("the Table Management API has no product list")

    async def add_lines(
        self, table_id: str, expected_order_id: str | None, lines: Sequence[NewLine]
    ) -> AddedLines:
        raise NotSupported("the Table Management API has no endpoint that adds items to an order")

    async def ping(self) -> bool:
        """One authenticated call that costs the POS one table row."""
        params: dict[str, str | int] = {"outlet_id": self.settings.outlet_id, "page": 1, "limit": 1}
        try:
            await self._get(f"{API}/tables", params)
        except PosError:
            return False
        return True

    # -- changes ---------------------------------------------------------------------

    async def changes_since(self, cursor: str | None) -> ChangedTables:
        """The tables whose occupied entry changed since the poll that returned ``cursor``
        (``None``: every occupied table), under every name the adapter used for them."""
        if cursor is not None and cursor not in self._polls:
            raise CursorExpired(f"unknown change cursor {cursor!r}")
        outlet = segment(self.settings.outlet_id)
        answer = await self._get(f"{API}/outlets/{outlet}/tables/occupied")
        try:
            current = occupied_tables(answer)
        except MalformedAnswer as exc:
            raise PosUnavailable(f"the POS's occupied list is unreadable: {exc}") from None
        previous = self._polls[cursor] if cursor is not None else {}
        changed = {t for t, entry in current.items() if cursor is None or previous.get(t) != entry}
        changed |= previous.keys() - current.keys()
        names: set[str] = set()
        for table in changed:
            entry = current.get(table) or previous[table]
            names |= {table, *self._tables.aliases(table)}
            if entry.table_name:
                names.add(entry.table_name)
        new_cursor = f"{self._instance}-{next(self._generations)}"
        self._polls[new_cursor] = current
        while len(self._polls) > _KEPT_POLLS:
            self._polls.popitem(last=False)
        return ChangedTables(frozenset(names), new_cursor)


def _raise_for(response: PosResponse, *, table: bool) -> NoReturn:
    status = response.status_code
    error, message = error_of(response.content)
    text = f"{status} {error or response.reason_phrase}: {message}"
    if status == 429 or status >= 500:
        raise PosUnavailable(text, pos_detail=error, retry_after=_retry_after(response))
    if table and status in (400, 404):
        raise TableNotFound(message or "Table not found", pos_detail=error)
    if status == 404:
        raise PosUnavailable(f"{text} (is POS_ADAPTER_POS_URL the API's base URL?)",
                             pos_detail=error)
    raise PosBusinessError(text, pos_detail=error)


def _retry_after(response: PosResponse) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None
