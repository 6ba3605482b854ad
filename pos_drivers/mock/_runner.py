"""Running the mock POS: blocking for the CLI, or inside the caller's event loop.

Both use a uvicorn server that ends the SSE streams as its shutdown begins: uvicorn
waits for open responses to finish, and an event stream never finishes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from types import TracebackType
from typing import Final, Self

import uvicorn
from starlette.applications import Starlette

from pos_drivers.mock._server import create_app, mock_pos_of
from pos_drivers.mock._state import MockPosState

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8081
_STARTUP_TIMEOUT: Final = 10.0
_SHUTDOWN_TIMEOUT: Final = 5.0


class _Server(uvicorn.Server):
    """uvicorn, plus: cut the event streams on shutdown; optionally leave signals alone."""

    def __init__(self, config: uvicorn.Config, app: Starlette, *, own_signals: bool) -> None:
        super().__init__(config)
        self._app = app
        self._own_signals = own_signals
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        mock_pos_of(self._app).hub.close()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if not self._own_signals:
            yield  # embedded: signals belong to the host program
            return
        with super().capture_signals():
            yield


def _config(
    app: Starlette, host: str, port: int, log_level: str, *, embedded: bool
) -> uvicorn.Config:
    """``embedded``: leave the host program's logging configuration alone."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None if embedded else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Run the mock POS until interrupted (``pos-adapter mock-pos``); Ctrl+C returns."""
    app = create_app()
    with contextlib.suppress(KeyboardInterrupt):
        _Server(_config(app, host, port, "info", embedded=False), app, own_signals=True).run()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket; IPPROTO_TCP explicitly, or asyncio leaves Nagle on for the
    accepted connections (and every small answer waits for a delayed ACK)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


class MockPosServer:
    """The mock POS on a real socket, inside the current event loop.

    ``port=0`` takes a free port; ``url`` tells which; ``state`` is the live
    :class:`MockPosState` (tests may read it directly). Leaving the context (or
    ``stop()``) ends the event streams and stops the server, typically in 0.2 s. An
    instance starts once. uvicorn's signal handling and logging setup are left to the
    host program.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        state: MockPosState | None = None,
        log_level: str = "warning",
    ) -> None:
        self.state = MockPosState() if state is None else state
        self.app = create_app(self.state)
        self.host = host
        self.port = port
        self._server = _Server(
            _config(self.app, host, port, log_level, embedded=True), self.app, own_signals=False
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind (errors surface here, not in a task), then serve and wait until ready."""
        if self._task is not None or self._server.started:
            raise RuntimeError("a MockPosServer starts once; make a new one")
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        ready = asyncio.create_task(self._server.ready.wait())
        try:
            await asyncio.wait(
                {ready, self._task}, timeout=_STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if not self._server.ready.is_set():
            await self.stop()
            raise RuntimeError("the mock POS did not start")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        mock_pos_of(self.app).hub.close()
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), _SHUTDOWN_TIMEOUT)
        except TimeoutError:
            self._server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
