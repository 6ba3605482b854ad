"""The ``mock`` driver: the mock POS's API over HTTP, mapped to the driver interface.

One long-lived client (``pos_http_client``: keep-alive); one attempt per call. Answers map
to errors as follows:

- connection errors, timeouts, 5xx, 429 -> PosUnavailable (``retry_after`` from 429);
- 404 on a table's URL, whatever its body -> TableNotFound (an id that is no table may
  not even reach the route: ``../x``); 409 ``ORDER_CLOSED`` -> OrderClosed;
  409 ``DUPLICATE_REF`` -> DuplicateReference with the lines holding the references;
- 422 -> ItemsRejected, one ItemRejection per failing line;
- 410 -> CursorExpired; any other refusal -> PosBusinessError.

``pos_detail`` is the POS's error code. Settings: :class:`MockSettings`
(``POS_ADAPTER_MOCK_*``). The mock has no modifiers: a line with ``modifier_ids`` is
refused before the call. An answer carrying a check is parsed from where the table's
last one left off (``_answers``): an add's answer costs its new lines, not the check's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any, ClassVar, NoReturn, TypeVar, cast

import aiohttp
import httpx
from httpx_sse import aconnect_sse
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pos_drivers._base import DriverConfig, PosDriver
from pos_drivers._errors import (
    CursorExpired,
    DuplicateReference,
    ItemReason,
    ItemRejection,
    ItemsRejected,
    OrderClosed,
    PosBusinessError,
    PosError,
    PosUnavailable,
    TableNotFound,
)
from pos_drivers._http import PosHttpClient, PosResponse, pos_http_client, segment
from pos_drivers._http_aiohttp import aiohttp_session
from pos_drivers._http_errors import ERRORS as HTTP_ERRORS
from pos_drivers._http_errors import as_httpx
from pos_drivers._models import (
    AddedLines,
    Capability,
    ChangedTables,
    LineStatus,
    NewLine,
    PosCheck,
    PosDiscount,
    PosLine,
    PosModifier,
    PosProduct,
    PushEvent,
)
from pos_drivers._settings import DriverSettings
from pos_drivers._shared import SharedValues
from pos_drivers._sse import sse_data
from pos_drivers.mock._answers import CheckAnswers

T = TypeVar("T")

_REASON_TEXT = {
    ItemReason.UNKNOWN_PRODUCT: "unknown product {product}",
    ItemReason.DELISTED: "{product} is not on sale",
    ItemReason.OUT_OF_STOCK: "{product} is out of stock",
    ItemReason.INSUFFICIENT_STOCK: "only {available} of {product} left",
    ItemReason.PRICE_CHANGED: "the price of {product} is now {price}",
}


class _StreamRefused(Exception):
    """The event stream answered something other than 200."""


class MockSettings(DriverSettings):
    """The mock driver's settings, ``POS_ADAPTER_MOCK_*``."""

    model_config = SettingsConfigDict(env_prefix="POS_ADAPTER_MOCK_", extra="ignore",
                                      frozen=True)

    currency: str = Field(
        "PEN", pattern=r"^[A-Z]{3}$",
        description="currency of a table without a check (the mock's answer has none)",
    )
    push_read_timeout: float = Field(
        30.0, gt=0, description="seconds without a byte (pings included) before the event "
        "stream is deemed dead",
    )
    push_backoff_initial: float = Field(
        0.1, gt=0, description="first wait before reconnecting the event stream"
    )
    push_backoff_max: float = Field(
        2.0, gt=0, description="longest wait between two event stream reconnections"
    )


class MockDriver(PosDriver):
    """Driver for the mock POS that ships with the adapter (``pos-adapter mock-pos``)."""

    name: ClassVar[str] = "mock"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.ADD_LINES,
            Capability.PUSH_CHANGES,
            Capability.COMPLETE_PUSH,
            Capability.BATCH_CHANGES,
            Capability.EXTERNAL_REFS,
        }
    )

    settings_model: ClassVar[type[DriverSettings]] = MockSettings

    def __init__(
        self,
        config: DriverConfig,
        settings: MockSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (tests of answers the mock never gives)."""
        super().__init__(config, settings)
        options = cast(MockSettings, self.settings)
        self._transport = transport
        self._client: PosHttpClient | None = None
        # The push channel's one long stream gets a pool of its own: closing it then ends
        # the stream at once.
        self._push_session: aiohttp.ClientSession | None = None
        self._push_response: aiohttp.ClientResponse | None = None
        """The stream being read: closing the session alone does not wake its reader."""
        self._push_client: httpx.AsyncClient | None = None  # with a transport
        self._closed = False
        self._table_names: dict[str, str] = {}
        self._answers = CheckAnswers(_line)
        self._currency = options.currency
        self._push_timeout = options.push_read_timeout
        self._backoff_initial = options.push_backoff_initial
        self._backoff_max = options.push_backoff_max

    @property
    def _http(self) -> PosHttpClient:
        if self._closed:
            raise RuntimeError("the mock driver is closed")
        if self._client is None:
            self._client = pos_http_client(
                self.config.pos_url,
                timeout=self.config.request_timeout,
                transport=self._transport,
                headers={"Accept": "application/json"},
            )
        return self._client

    async def open(self) -> None:
        self._closed = False
        self._http  # noqa: B018  (creates the client)

    async def aclose(self) -> None:
        """Close the client; a running ``push_events`` then ends."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        if self._push_response is not None:
            self._push_response.close()
        session, self._push_session = self._push_session, None
        if session is not None:
            await session.close()
        push, self._push_client = self._push_client, None
        if push is not None:
            await push.aclose()

    # -- calls ------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, table_id: str | None = None, **kwargs: Any
    ) -> Any:
        """One attempt; the answer's JSON, or the mapped driver error. ``table_id``: the
        path is that table's (a 404 then means no such table)."""
        response = await self._answer(method, path, table_id=table_id, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise PosUnavailable("the POS answered something that is not JSON") from exc

    async def _check_call(
        self, method: str, path: str, table_id: str, **kwargs: Any
    ) -> tuple[Mapping[str, Any], tuple[PosLine, ...]]:
        """One attempt answered with the table's check: its fields and its lines."""
        response = await self._answer(method, path, table_id=table_id, **kwargs)
        return _parsed(self._answers.parse, table_id, response.content)

    async def _answer(
        self, method: str, path: str, *, table_id: str | None = None, **kwargs: Any
    ) -> PosResponse:
        """One attempt; the successful answer, or the mapped driver error."""
        try:
            response = await self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise PosUnavailable(f"cannot reach the POS ({exc!r})") from exc
        except httpx.TimeoutException as exc:
            raise PosUnavailable(f"the POS did not answer in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise PosUnavailable(f"cannot reach the POS ({exc!r})") from exc
        if response.is_success:
            return response
        if response.status_code == 404 and table_id is not None:
            code, message, _lines = _error_body(response)
            raise TableNotFound(message or f"no table {table_id!r} on the POS",
                                pos_detail=code or "404")
        _raise_for(response)

    async def read_check(self, table_id: str) -> PosCheck:
        order, lines = await self._check_call(
            "GET", f"/tables/{segment(table_id)}/order", table_id
        )
        name = await self._table_name(table_id)
        return _parsed(_check, order, lines, table_id, name, self._currency)

    async def _table_name(self, table_id: str) -> str:
        name = self._table_names.get(table_id)
        if name is None:
            await self._load_tables()
            name = self._table_names.get(table_id, table_id)
        return name

    async def _load_tables(self) -> None:
        tables = await self._call("GET", "/tables")
        self._table_names = _parsed(lambda t: {x["tableId"]: str(x["name"]) for x in t}, tables)

    async def list_products(self) -> Mapping[str, PosProduct]:
        products = await self._call("GET", "/products")
        return _parsed(lambda ps: {p["productId"]: _product(p) for p in ps}, products)

    async def add_lines(
        self, table_id: str, expected_order_id: str | None, lines: Sequence[NewLine]
    ) -> AddedLines:
        _refuse_modifiers(lines)
        body = {"orderId": expected_order_id, "lines": [_new_line(line) for line in lines]}
        order, on_check = await self._check_call(
            "POST", f"/tables/{segment(table_id)}/order/lines", table_id, json=body
        )
        name = await self._table_name(table_id)
        check = _parsed(_check, order, on_check, table_id, name, self._currency)
        return _parsed(_added, order, len(lines), check)

    async def find_lines(self, table_id: str, ref_prefix: str) -> tuple[PosLine, ...]:
        found = await self._call(
            "GET", f"/tables/{segment(table_id)}/order/lines", table_id=table_id,
            params={"externalRef": ref_prefix},
        )
        return _parsed(lambda f: tuple(_line(x) for x in f["lines"]), found)

    async def changes_since(self, cursor: str | None) -> ChangedTables:
        params = {} if cursor is None else {"since": cursor}
        answer = await self._call("GET", "/orders/changes", params=params)
        return _parsed(_changed, answer)

    async def ping(self) -> bool:
        """A POS API call (faults apply) that also refreshes the table names."""
        try:
            await self._load_tables()
        except PosError:
            return False
        return True

    # -- push -------------------------------------------------------------------------

    async def push_events(self) -> AsyncGenerator[PushEvent, None]:
        """Follow ``/events``, reconnecting with exponential back-off.

        Yields ``PushEvent(None)`` after each successful connection. Close it with
        ``contextlib.aclosing`` (or cancel the consumer) to stop; it also ends when the
        driver is closed.
        """
        delay = self._backoff_initial
        while not self._closed:
            try:
                async with contextlib.aclosing(self._one_stream()) as stream:
                    async for event in stream:
                        delay = self._backoff_initial
                        yield event
            except (httpx.HTTPError, _StreamRefused):
                pass
            if self._closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _one_stream(self) -> AsyncGenerator[PushEvent, None]:
        """One connection to ``/events``: ``PushEvent(None)`` once connected, then an event
        per announcement. On aiohttp, as the calls are; through httpx when a transport
        replaces the network."""
        if self._transport is not None:
            async for event in self._one_httpx_stream(self._transport):
                yield event
            return
        if self._push_session is None:
            self._push_session = aiohttp_session(
                self.config.pos_url, timeout=self.config.request_timeout, headers={},
                max_connections=1,
            )
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.request_timeout,
                                        sock_read=self._push_timeout)
        url = f"{self.config.pos_url.rstrip('/')}/events"
        try:
            async with self._push_session.get(
                url, timeout=timeout, headers={"Accept": "text/event-stream"},
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    raise _StreamRefused(response.status)
                self._push_response = response
                yield PushEvent(None)
                async for data in sse_data(response.content):
                    yield _event(data)
        except HTTP_ERRORS as exc:
            raise as_httpx(exc) from exc
        finally:
            self._push_response = None

    async def _one_httpx_stream(
        self, transport: httpx.AsyncBaseTransport
    ) -> AsyncGenerator[PushEvent, None]:
        timeout = httpx.Timeout(self.config.request_timeout, read=self._push_timeout)
        if self._push_client is None:
            self._push_client = httpx.AsyncClient(base_url=self.config.pos_url,
                                                  transport=transport)
        async with aconnect_sse(self._push_client, "GET", "/events", timeout=timeout) as source:
            if source.response.status_code != 200:
                raise _StreamRefused(source.response.status_code)
            yield PushEvent(None)
            async for sse in source.aiter_sse():
                yield _event(sse.data)


# -- answers to models ---------------------------------------------------------------


def _parsed(parse: Callable[..., T], *args: Any) -> T:
    """``parse(*args)``, a malformed answer being a (transient) PosUnavailable."""
    try:
        return parse(*args)
    except (KeyError, TypeError, ValueError) as exc:
        raise PosUnavailable(f"unexpected answer from the POS ({exc!r})") from exc


def _event(data: str) -> PushEvent:
    """The table an event names and its version; no table (resynchronise everything) if
    it names none."""
    try:
        announced = json.loads(data)
        table_id, version = announced["tableId"], announced.get("updatedAt")
    except (ValueError, KeyError, TypeError, AttributeError):
        return PushEvent(None)
    if not isinstance(table_id, str):
        return PushEvent(None)
    return PushEvent(table_id, version if isinstance(version, str) else None)


def _line(raw: Mapping[str, Any]) -> PosLine:
    """A line of an answer. Each answer carries the whole check, nearly every line as it
    was: a line without modifiers is parsed once and shared (PosLine is immutable) for
    as long as anything holds it, a stream's baseline above all (through
    ``handlers._snapshots.to_line``), so what is remembered is what the open checks hold,
    however many tables."""
    if raw.get("modifiers"):
        return _parsed_line(raw)
    key = (raw["lineId"], raw["productId"], raw["name"], raw["quantity"], raw["unitPrice"],
           raw["status"], raw.get("notes"), raw.get("externalRef"))
    ref = _LINES.refs.get(key)
    line = None if ref is None else ref()
    return _LINES.put(key, _parsed_line(raw)) if line is None else line


_LINES: SharedValues[tuple[Any, ...], PosLine] = SharedValues()


def _parsed_line(raw: Mapping[str, Any]) -> PosLine:
    return PosLine(
        line_id=raw["lineId"],
        product_id=raw["productId"],
        name=raw["name"],
        quantity=int(raw["quantity"]),
        unit_price=int(raw["unitPrice"]),
        status=LineStatus(raw["status"]),
        notes=raw.get("notes"),
        modifiers=tuple(_modifier(m) for m in raw.get("modifiers") or ()),
        external_ref=raw.get("externalRef"),
    )


def _modifier(raw: Mapping[str, Any]) -> PosModifier:
    return PosModifier(
        raw["modifierId"], raw["name"], int(raw.get("quantity", 1)), int(raw["unitPrice"])
    )


def _discount(raw: Mapping[str, Any]) -> PosDiscount:
    return PosDiscount(raw["discountId"], raw["name"], int(raw["amount"]), raw.get("lineId"))


def _check(
    order: Mapping[str, Any], lines: tuple[PosLine, ...], table_id: str, name: str,
    currency: str,
) -> PosCheck:
    return PosCheck(
        table_id=table_id,
        table_name=name,
        order_id=order["orderId"],
        currency=order.get("currency") or currency,
        lines=lines,
        discounts=tuple(_discount(x) for x in order["discounts"]),
        version=order.get("updatedAt") or None,
    )


def _product(raw: Mapping[str, Any]) -> PosProduct:
    stock = raw.get("stock")
    return PosProduct(
        raw["productId"],
        raw["name"],
        int(raw["price"]),
        bool(raw["available"]),
        None if stock is None else int(stock),
    )


def _added(order: Mapping[str, Any], count: int, check: PosCheck) -> AddedLines:
    """The order's last ``count`` lines: the mock appends a call's lines together, in order."""
    return AddedLines(order["orderId"], check.lines[-count:] if count else (), check)


def _changed(answer: Mapping[str, Any]) -> ChangedTables:
    tables = frozenset(str(change["tableId"]) for change in answer["changes"])
    return ChangedTables(tables, answer["cursor"])


def _new_line(line: NewLine) -> dict[str, object]:
    return {
        "productId": line.product_id,
        "quantity": line.quantity,
        "unitPrice": line.unit_price,
        "notes": line.notes,
        "externalRef": line.external_ref,
    }


def _refuse_modifiers(lines: Sequence[NewLine]) -> None:
    rejections = tuple(
        ItemRejection(
            index,
            ItemReason.UNKNOWN_PRODUCT,
            f"the mock POS has no modifiers ({', '.join(line.modifier_ids)})",
            pos_detail="MODIFIERS_NOT_SUPPORTED",
        )
        for index, line in enumerate(lines)
        if line.modifier_ids
    )
    if rejections:
        raise ItemsRejected("modifiers are not supported", rejections=rejections)


# -- errors --------------------------------------------------------------------------


def _error_body(response: PosResponse) -> tuple[str | None, str, list[Any]]:
    """(code, message, lines) of an error answer, whatever its shape."""
    try:
        body = response.json()
        return str(body["error"]), str(body.get("message", "")), list(body.get("lines") or [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.text[:200] or response.reason_phrase, []


def _raise_for(response: PosResponse) -> NoReturn:
    status = response.status_code
    code, message, lines = _error_body(response)
    text = f"{status} {code or response.reason_phrase}: {message}"
    if status == 429 or status >= 500:
        raise PosUnavailable(text, pos_detail=code, retry_after=_retry_after(response))
    if status == 404 and code == "TABLE_NOT_FOUND":
        raise TableNotFound(message, pos_detail=code)
    if status == 409 and code == "ORDER_CLOSED":
        raise OrderClosed(message, pos_detail=code)
    if status == 409 and code == "DUPLICATE_REF":
        existing = _parsed(lambda xs: tuple(_line(x) for x in xs), lines)
        raise DuplicateReference(message, existing=existing, pos_detail=code)
    if status == 422:
        rejections = _parsed(lambda xs: tuple(_rejection(x) for x in xs), lines)
        raise ItemsRejected(message, rejections=rejections, pos_detail=code)
    if status == 410:
        raise CursorExpired(message, pos_detail=code)
    raise PosBusinessError(text, pos_detail=code)


def _retry_after(response: PosResponse) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _rejection(raw: Mapping[str, Any]) -> ItemRejection:
    reason = ItemReason(raw["error"])
    text = _REASON_TEXT[reason].format(
        product=raw.get("productId"), available=raw.get("available"), price=raw.get("currentPrice")
    )
    return ItemRejection(
        index=int(raw["index"]),
        reason=reason,
        message=text,
        pos_detail=raw["error"],
        available_quantity=raw.get("available"),
        current_unit_price=raw.get("currentPrice"),
    )
