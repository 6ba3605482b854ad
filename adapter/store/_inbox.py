"""Knowing whether a messageId was answered, in bounded memory.

- :class:`RecentIds`: the messageIds this process answered lately (a bounded, oldest-out
  set). On a store only this process writes (SQLite), the group commit asks it whether a
  write set repeats a messageId answered meanwhile; a duplicate delivered later is found
  by the inbox lookup before it is handled.
- :class:`InboxLookups`: the inbox rows of messageIds asked for, the ids asked for while
  a query runs read together by the next one, so that a lookup per command costs a
  fraction of a query under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping

from handlers import InboxRecord

RECENT_IDS = 10_000
"""About 1 MB of messageIds: a minute of traffic at full speed, far more than the time two
deliveries of one message can be in flight together."""


class RecentIds:
    def __init__(self, limit: int = RECENT_IDS) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}

    def add(self, message_id: str) -> None:
        self._ids.pop(message_id, None)
        self._ids[message_id] = None
        if len(self._ids) > self.limit:
            del self._ids[next(iter(self._ids))]

    def discard_all(self, message_ids: Iterable[str]) -> None:
        for message_id in message_ids:
            self._ids.pop(message_id, None)

    def clear(self) -> None:
        self._ids.clear()

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


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
