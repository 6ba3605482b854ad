"""The drivers' HTTP client against a real HTTP server, on both of its paths: aiohttp
directly (nobody hooked) and an httpx client over aiohttp (a hook registered, as tracing
does). Both answer alike and raise the httpx errors the drivers map."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from aiohttp import web

from pos_drivers import DriverConfig, PosUnavailable, on_http_client
from pos_drivers._http import HttpxClient, PosHttpClient, pos_http_client, segment
from pos_drivers._http_aiohttp import AiohttpClient
from pos_drivers.mock import MockDriver

Build = Callable[..., PosHttpClient]


class Server:
    """A tiny aiohttp server: ``/echo`` tells what it received, ``/status/{code}`` answers
    that status, ``/gzip`` a compressed body, ``/stall`` nothing until it is stopped."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{base:.*}echo", self._echo)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/stall", self._stall)
        self._runner = web.AppRunner(app)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    async def start(self) -> None:
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def stop(self) -> None:
        self.stopping.set()
        await self._runner.cleanup()
        self._sock.close()

    async def _echo(self, request: web.Request) -> web.Response:
        return web.json_response({
            "method": request.method,
            "path": request.rel_url.raw_path,
            "query": dict(request.query),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": (await request.read()).decode(),
        })

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        if code == 429:
            return web.json_response({"error": "SLOW", "message": "later"}, status=429,
                                     headers={"Retry-After": "3"})
        return web.Response(status=code, text="<html>boom</html>", content_type="text/html")

    async def _gzip(self, request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"zipped": true}'),
                            headers={"Content-Encoding": "gzip",
                                     "Content-Type": "application/json"})

    async def _stall(self, request: web.Request) -> web.Response:
        await self.stopping.wait()
        return web.Response(status=204)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    running = Server()
    await running.start()
    yield running
    await running.stop()


def _hooked(
    url: str, *, timeout: float, headers: dict[str, str] | None = None
) -> PosHttpClient:
    seen: list[httpx.AsyncClient] = []
    remove = on_http_client(seen.append)
    try:
        client = pos_http_client(url, timeout=timeout, headers=headers)
    finally:
        remove()
    assert isinstance(client, HttpxClient)
    assert seen == [client.client]
    return client


def _direct(
    url: str, *, timeout: float, headers: dict[str, str] | None = None
) -> PosHttpClient:
    client = pos_http_client(url, timeout=timeout, headers=headers)
    assert isinstance(client, AiohttpClient)
    return client


@pytest.fixture(params=[_direct, _hooked], ids=["aiohttp", "hooked"])
def build(request: pytest.FixtureRequest) -> Build:
    built: Build = request.param
    return built


@pytest.fixture
async def client(server: Server, build: Build) -> AsyncIterator[PosHttpClient]:
    opened = build(server.url, timeout=2.0, headers={"Accept": "application/json"})
    yield opened
    await opened.aclose()


async def test_a_json_answer(client: PosHttpClient) -> None:
    response = await client.request("GET", "/echo")

    assert (response.status_code, response.reason_phrase, response.is_success) == (
        200, "OK", True)
    assert response.headers["content-type"] == response.headers["Content-Type"]
    assert response.headers["Content-Type"].startswith("application/json")
    echoed = response.json()
    assert (echoed["method"], echoed["path"], echoed["body"]) == ("GET", "/echo", "")
    assert echoed["headers"]["accept"] == "application/json"
    assert response.text.startswith('{"method": "GET"')


async def test_params_json_and_headers_are_sent(client: PosHttpClient) -> None:
    response = await client.request(
        "POST", f"/tables/{segment('a/b')}/echo", params={"since": "c 1", "n": 2},
        json={"lines": [1, "ñ"]}, headers={"Authorization": "Bearer t"},
    )

    echoed = response.json()
    assert echoed["path"] == "/tables/a%2Fb/echo"
    assert echoed["query"] == {"since": "c 1", "n": "2"}
    assert echoed["headers"]["authorization"] == "Bearer t"
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["accept"] == "application/json"
    assert httpx.Response(200, content=echoed["body"]).json() == {"lines": [1, "ñ"]}


async def test_raw_content_is_sent(client: PosHttpClient) -> None:
    response = await client.request("PUT", "/echo", content=b"raw bytes")

    assert response.json()["body"] == "raw bytes"


async def test_the_base_url_path_is_kept(server: Server, build: Build) -> None:
    client = build(f"{server.url}/pos/", timeout=2.0)
    try:
        response = await client.request("GET", "/echo")
    finally:
        await client.aclose()

    assert response.json()["path"] == "/pos/echo"


async def test_a_refusal_with_its_body_and_retry_after(client: PosHttpClient) -> None:
    response = await client.request("GET", "/status/429")

    assert (response.status_code, response.is_success) == (429, False)
    assert response.reason_phrase == "Too Many Requests"
    assert response.headers["retry-after"] == "3"
    assert response.json() == {"error": "SLOW", "message": "later"}


async def test_a_server_error_with_a_body_that_is_not_json(client: PosHttpClient) -> None:
    response = await client.request("GET", "/status/503")

    assert (response.status_code, response.is_success) == (503, False)
    assert response.text == "<html>boom</html>"
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


async def test_a_compressed_body_is_decoded(client: PosHttpClient) -> None:
    response = await client.request("GET", "/gzip")

    assert response.json() == {"zipped": True}


async def test_no_answer_in_time_is_a_timeout(server: Server, build: Build) -> None:
    client = build(server.url, timeout=0.2)
    try:
        with pytest.raises(httpx.TimeoutException):
            await client.request("GET", "/stall")
    finally:
        await client.aclose()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_refused_connection_is_a_connect_error(build: Build) -> None:
    client = build(f"http://127.0.0.1:{_closed_port()}", timeout=2.0)
    try:
        with pytest.raises(httpx.ConnectError):
            await client.request("GET", "/echo")
    finally:
        await client.aclose()


@pytest.mark.parametrize("hooked", [False, True], ids=["aiohttp", "hooked"])
async def test_a_refused_connection_makes_the_driver_unavailable(hooked: bool) -> None:
    remove = on_http_client(lambda client: None) if hooked else None
    try:
        driver = MockDriver(DriverConfig(pos_url=f"http://127.0.0.1:{_closed_port()}"))
        await driver.open()
    finally:
        if remove is not None:
            remove()
    try:
        with pytest.raises(PosUnavailable, match="cannot reach"):
            await driver.read_check("T1")
    finally:
        await driver.aclose()


async def test_a_closed_client_sends_nothing(server: Server, build: Build) -> None:
    client = build(server.url, timeout=2.0)
    assert (await client.request("GET", "/echo")).is_success
    await client.aclose()

    with pytest.raises(RuntimeError):
        await client.request("GET", "/echo")
