"""The inbox rows of messageIds asked for: the ids asked for while a query runs are read
together by the next one, so that a lookup per command costs a fraction of a query under
load. (A messageId answered meanwhile is the group commit's to refuse.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from handlers import InboxRecord

Fetch = Callable[[list[str]], Awaitable[Mapping[str, InboxRecord]]]


class InboxLookups:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._waiting: dict[str, list[asyncio.Future[InboxRecord | None]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def get(self, message_id: str) -> InboxRecord | None:
        future: asyncio.Future[InboxRecord | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(message_id, []).append(future)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="inbox-lookups")
        return await future

    async def _read(self) -> None:
        batch: dict[str, list[asyncio.Future[InboxRecord | None]]] = {}
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    found = await self._fetch(list(batch))
                except Exception as exc:
                    _fail(batch, exc)
                    continue
                for message_id, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(message_id))
                batch = {}
        finally:
            self._reader = None
            # Cancelled (the store closes): nobody may wait for ever.
            closed = RuntimeError("the store closed")
            _fail(batch, closed)
            waiting, self._waiting = self._waiting, {}
            _fail(waiting, closed)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


def _fail(batch: Mapping[str, list[asyncio.Future[InboxRecord | None]]], exc: Exception) -> None:
    for futures in batch.values():
        for future in futures:
            if not future.done():
                future.set_exception(exc)
