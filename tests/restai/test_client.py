"""The HTTP layer: 429 with Retry-After, transient failures, and the error mappings."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pos_drivers import (
    ItemReason,
    ItemsRejected,
    NewLine,
    OrderClosed,
    PosBusinessError,
    PosUnavailable,
    TableNotFound,
)
from pos_drivers.restai import RestaiDriver
from pos_drivers.restai._client import RestaiApiError, Transport, data_of, retry_after_seconds
from pos_drivers.restai._mapping import api_error, submission_error
from tests.restai.fake_restai import FakeRestai


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def transport_for(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock, max_wait: float = 2.0
) -> tuple[Transport, httpx.AsyncClient]:
    http = httpx.AsyncClient(base_url="http://restai", transport=httpx.MockTransport(handler))
    return Transport(http, max_inline_wait=max_wait, clock=clock, sleep=clock.sleep), http


def rate_limited(retry_after: str) -> httpx.Response:
    body = {"success": False, "error": {"code": "RATE_LIMITED", "message": "Demasiadas"}}
    return httpx.Response(429, json=body, headers={"Retry-After": retry_after})


async def test_a_short_retry_after_is_waited_out_and_the_call_repeated() -> None:
    answers = [rate_limited("1"), httpx.Response(200, json={"success": True, "data": 7})]
    clock = Clock()
    transport, http = transport_for(lambda request: answers.pop(0), clock)
    async with http:
        response = await transport.send("GET", "/api/tables")
    assert data_of(response) == 7
    assert clock.slept == [1.0]


async def test_a_long_retry_after_fails_fast_until_it_has_passed() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if len(sent) == 1:
            return rate_limited("30")
        return httpx.Response(200, json={"success": True, "data": 1})

    clock = Clock()
    transport, http = transport_for(handler, clock)
    async with http:
        with pytest.raises(PosUnavailable) as first:
            await transport.send("GET", "/api/tables")
        assert first.value.retry_after == 30.0
        assert first.value.pos_detail == "429 RATE_LIMITED: Demasiadas"
        clock.now += 10
        with pytest.raises(PosUnavailable) as second:
            await transport.send("GET", "/api/tables")  # RestAI is not asked again
        assert second.value.retry_after == pytest.approx(20.0)
        assert sent == ["/api/tables"]
        clock.now += 20
        assert data_of(await transport.send("GET", "/api/tables")) == 1
    assert clock.slept == []


async def test_two_429_in_a_row_give_up() -> None:
    clock = Clock()
    transport, http = transport_for(lambda request: rate_limited("0"), clock)
    async with http:
        with pytest.raises(PosUnavailable) as caught:
            await transport.send("GET", "/api/tables")
    assert caught.value.retry_after == 0.0


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
)
async def test_network_failures_are_pos_unavailable(failure: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    transport, http = transport_for(handler, Clock())
    async with http:
        with pytest.raises(PosUnavailable):
            await transport.send("GET", "/api/tables")


def test_5xx_is_unavailable_and_4xx_is_an_api_error() -> None:
    body = {"success": False, "error": {"code": "INTERNAL_ERROR", "message": "Error interno"}}
    with pytest.raises(PosUnavailable) as caught:
        data_of(httpx.Response(503, json=body))
    assert caught.value.pos_detail == "503 INTERNAL_ERROR: Error interno"
    zod = {
        "success": False,
        "error": {
            "name": "ZodError",
            "issues": [{"path": ["items", 0, "notes"], "message": "too long"}],
        },
    }
    with pytest.raises(RestaiApiError) as api:
        data_of(httpx.Response(400, json=zod))
    assert api.value.code == "ZodError"
    assert api.value.detail == "400 ZodError: items.0.notes: too long"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


async def test_driver_honours_429_end_to_end(driver: RestaiDriver, fake: FakeRestai) -> None:
    fake.fail_next(429, retry_after="0", path="/api/tables/")
    assert (await driver.read_check("3")).order_id is None
    fake.fail_next(429, retry_after="120", path="/api/tables/")
    with pytest.raises(PosUnavailable) as caught:
        await driver.read_check("4")
    assert caught.value.retry_after == 120.0
    calls = len(fake.calls)
    with pytest.raises(PosUnavailable):
        await driver.read_check("5")
    assert len(fake.calls) == calls  # nothing sent while RestAI asked to wait


async def test_driver_maps_5xx_to_unavailable(driver: RestaiDriver, fake: FakeRestai) -> None:
    fake.fail_next(503, path="/api/tables/")
    with pytest.raises(PosUnavailable) as caught:
        await driver.read_check("3")
    assert caught.value.pos_detail == "503 INTERNAL_ERROR: Error interno"


def error(status: int, code: str | None, message: str) -> RestaiApiError:
    return RestaiApiError(status, code, message)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            error(409, "CONFLICT", "Esta cuenta ya se cobró. Abre una nueva para seguir pidiendo."),
            OrderClosed,
        ),
        (error(409, "CONFLICT", "Esta cuenta está anulada: no admite más platos."), OrderClosed),
        (error(404, "NOT_FOUND", "Mesa no encontrada en esta sede"), TableNotFound),
        (error(403, "FORBIDDEN", "No tienes acceso a esta sucursal"), PosUnavailable),
        (error(400, "ZodError", "items.0.quantity: Invalid"), PosBusinessError),
        (error(404, "NOT_FOUND", "Orden no encontrada"), PosBusinessError),
    ],
)
def test_generic_mapping(raised: RestaiApiError, expected: type[Exception]) -> None:
    mapped = api_error(raised)
    assert type(mapped) is expected
    assert mapped.pos_detail == raised.detail


LINES = (
    NewLine(product_id="p-ceviche", quantity=1, unit_price=3500),
    NewLine(product_id="p-lomo", quantity=1, unit_price=3800, modifier_ids=("m-huevo",)),
    NewLine(product_id="p-lomo", quantity=2, unit_price=3800),
)
NAMES = {"p-ceviche": "Ceviche Clásico", "p-lomo": "Lomo Saltado"}
MODIFIERS = {"m-huevo": "Huevo frito"}


@pytest.mark.parametrize(
    ("message", "indices", "reason"),
    [
        ("Item no disponible: Ceviche Clásico", [0], ItemReason.DELISTED),
        ("Item no encontrado: p-lomo", [1, 2], ItemReason.UNKNOWN_PRODUCT),
        ("Modificador no encontrado: m-huevo", [1], ItemReason.UNKNOWN_PRODUCT),
        ("Modificador no disponible: Huevo frito", [1], ItemReason.DELISTED),
        ('Modificador inválido para "Lomo Saltado": Huevo frito', [1], ItemReason.UNKNOWN_PRODUCT),
        (
            'Selección insuficiente de modificadores para "Lomo Saltado"',
            [1, 2],
            ItemReason.UNKNOWN_PRODUCT,
        ),
        (
            'Demasiados modificadores seleccionados para "Lomo Saltado"',
            [1, 2],
            ItemReason.UNKNOWN_PRODUCT,
        ),
    ],
)
def test_submission_refusals_are_pinned_to_lines(
    message: str, indices: list[int], reason: ItemReason
) -> None:
    mapped = submission_error(error(400, "BAD_REQUEST", message), LINES, NAMES.get, MODIFIERS.get)
    assert isinstance(mapped, ItemsRejected)
    assert [r.index for r in mapped.rejections] == indices
    assert {r.reason for r in mapped.rejections} == {reason}
    assert {r.pos_detail for r in mapped.rejections} == {f"400 BAD_REQUEST: {message}"}


def test_unpinnable_refusal_stays_a_business_error() -> None:
    mapped = submission_error(
        error(400, "BAD_REQUEST", "Canje ya utilizado"), LINES, NAMES.get, MODIFIERS.get
    )
    assert type(mapped) is PosBusinessError
    assert mapped.pos_detail == "400 BAD_REQUEST: Canje ya utilizado"
