"""The POS HTTP client's CPU per request, in this process, against the mock POS.

    .venv/bin/python -m bench.http_client [--requests N] [--concurrency N] [--rounds N]
                                           [--json out.json]

``pos-adapter mock-pos`` runs in its own process on a free port (stopped at the end).
Each client below sends ``--requests`` reads of ``GET /tables/T1/order`` with
``--concurrency`` in flight (after a warm-up of 200 one at a time on the same client)
and parses the JSON answer; the CPU time of this process (user + system) over those
requests, divided by their number, is the cost per request. Clients take turns, round
after round, so that other work on the machine skews them alike; the median round is
shown, and the fastest.

- ``pos_http_client``: the drivers' client, as built for a driver;
- ``pos_http_client, hooked``: the same with an ``on_http_client`` hook registered that
  does nothing (the path tracing takes, without the spans' own cost);
- ``aiohttp.ClientSession``: the floor, aiohttp with nothing around it;
- ``httpx.AsyncClient``: httpx on its own transport (httpcore), for comparison;
- ``MockDriver.read_check``: one driver read (the request, its JSON, the check's model).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench._support import (
    Child,
    child_env,
    command_line,
    facts_lines,
    free_port,
    http_ok,
    machine_facts,
    markdown_table,
    run_and_report,
    wait_until,
)
from pos_drivers import DriverConfig, on_http_client
from pos_drivers._http import pos_http_client
from pos_drivers.mock import MockDriver

PATH = "/tables/T1/order"
WARMUP = 200

Call = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class Measured:
    """One client's CPU milliseconds per request, one value per round."""

    name: str
    rounds: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)


async def measure(call: Call, requests: int, concurrency: int) -> tuple[float, float]:
    """(CPU ms per request, requests per second) for ``requests`` calls, ``concurrency``
    in flight, after a warm-up."""
    for _ in range(WARMUP):
        await call()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return 1000 * cpu / requests, requests / wall


async def clients(url: str, stack: AsyncExitStack) -> dict[str, Call]:
    """The calls measured, by name; their clients closed with ``stack``."""
    headers = {"Accept": "application/json"}
    ours = pos_http_client(url, timeout=5.0, headers=headers)
    stack.push_async_callback(ours.aclose)
    remove = on_http_client(lambda client: None)
    hooked = pos_http_client(url, timeout=5.0, headers=headers)
    remove()
    stack.push_async_callback(hooked.aclose)
    session = aiohttp.ClientSession(url, headers=headers)
    stack.push_async_callback(session.close)
    plain = httpx.AsyncClient(base_url=url, timeout=5.0, headers=headers)
    stack.push_async_callback(plain.aclose)
    driver = MockDriver(DriverConfig(pos_url=url, request_timeout=5.0))
    await stack.enter_async_context(driver)

    async def ours_call() -> object:
        return (await ours.request("GET", PATH)).json()

    async def hooked_call() -> object:
        return (await hooked.request("GET", PATH)).json()

    async def session_call() -> object:
        async with session.get(PATH) as response:
            return await response.json()

    async def plain_call() -> object:
        return (await plain.request("GET", PATH)).json()

    async def driver_call() -> object:
        return await driver.read_check("T1")

    return {
        "pos_http_client": ours_call,
        "pos_http_client, hooked": hooked_call,
        "aiohttp.ClientSession": session_call,
        "httpx.AsyncClient": plain_call,
        "MockDriver.read_check": driver_call,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    facts = await machine_facts(None)
    facts.update({"httpx": version("httpx"), "aiohttp": version("aiohttp")})
    with tempfile.TemporaryDirectory(prefix="pos-adapter-bench-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        mock = Child("mock-pos", ["adapter.cli", "mock-pos", "--port", str(port)],
                     env=child_env(), log_dir=Path(tmp))
        async with mock, AsyncExitStack() as stack:
            await wait_until(lambda: http_ok(f"{url}/health"), what="the mock POS",
                             children=[mock])
            calls = await clients(url, stack)
            results = {name: Measured(name) for name in calls}
            for n in range(args.rounds):
                print(f"  round {n + 1} of {args.rounds}", flush=True)
                for name, call in calls.items():
                    cpu, rate = await measure(call, args.requests, args.concurrency)
                    results[name].rounds.append(cpu)
                    results[name].rates.append(rate)
                mock.check_alive()
    return {"facts": facts, "results": list(results.values())}


def report(result: dict[str, Any]) -> str:
    rows = [
        (m.name, statistics.median(m.rounds), min(m.rounds), statistics.median(m.rates))
        for m in result["results"]
    ]
    return "\n".join([
        f"`{command_line('bench.http_client')}`", "",
        markdown_table(["client", "CPU ms/request (median)", "CPU ms/request (best)",
                        "requests/s (median)"], rows),
        "", "Machine:", *facts_lines(result["facts"]),
    ])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http_client", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--requests", type=int, default=3000, help="per client and round")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(result: dict[str, Any]) -> dict[str, Any]:
        return {
            "commandLine": command_line("bench.http_client"),
            "facts": result["facts"],
            "cpuMsPerRequest": {m.name: m.rounds for m in result["results"]},
            "requestsPerSecond": {m.name: m.rates for m in result["results"]},
        }

    return run_and_report(bench(args), report, document, args.json)


if __name__ == "__main__":
    sys.exit(main())
