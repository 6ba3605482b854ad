"""A TCP proxy between the adapter and a service, to inject network faults in tests.

- :meth:`TcpProxy.down`: existing connections are cut and new ones refused (the broker
  stopped); :meth:`TcpProxy.up` listens again on the same port (it came back).
- :meth:`TcpProxy.blackhole`: connections stay open but nothing passes either way (a
  network partition); :meth:`TcpProxy.heal` lets bytes through again.
- :meth:`TcpProxy.reset`: existing connections are cut; new ones are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @classmethod
    def for_url(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5672)

    def url(self, url: str) -> str:
        """``url`` pointed at the proxy instead of the service."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        address = f"127.0.0.1:{self.port}"
        netloc = f"{credentials}@{address}" if credentials else address
        return urlunsplit(parts._replace(netloc=netloc))

    async def __aenter__(self) -> Self:
        await self.up()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.down()

    async def up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        await self.reset()

    async def reset(self) -> None:
        """Cut every open connection (both sides see it closed)."""
        for writer in list(self._writers):
            writer.transport.abort()
        pipes = list(self._pipes)
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    def blackhole(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            service_in, service_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.transport.abort()
            return
        self.accepted += 1
        self._writers |= {client_out, service_out}
        pipes = [asyncio.create_task(self._pipe(client_in, service_out)),
                 asyncio.create_task(self._pipe(service_in, client_out))]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
                self._pipes.discard(pipe)
            for writer in (client_out, service_out):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await source.read(65536):
                await self._flowing.wait()
                sink.write(chunk)
                await sink.drain()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
