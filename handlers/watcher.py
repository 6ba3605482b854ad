"""The watcher: follows every active stream of a location and pushes what the POS changed.

It learns which tables may have changed through the best the driver offers:

- ``push``: the driver's push channel names the tables; after every (re)connection every
  watched table is read again (nothing is replayed). A batch poll, when the driver has
  one, runs beside it as a backup: every poll interval, or every ``SAFETY_NET_INTERVAL``
  when the driver's push channel announces every change (``COMPLETE_PUSH``).
- ``poll``: one "what changed since this cursor" call per interval, whatever the number
  of tables; an unknown cursor resynchronises every watched table.
- ``table-poll``: the last resort, one read per watched table per interval.

A location that watches no stream costs its POS nothing: the change polls wait, and the
push channel is only connected while a stream is watched.

A push announcement that carries the check's version (``PushEvent.version``) is not
read when the table's stream already reflects that version: a submission that added
lines brings its stream up to the check the POS answered with, so the announcement of
its own lines costs no read.

A table that may have changed is read, then diffed against the stream's baseline under
the table's lock (the lock commands take), and the new baseline, sequence and change
messages are committed together. The read happens before the lock, under a deadline of
its own, so that a slow POS never keeps a command waiting for the watcher; if a command
moved the stream meanwhile, the read may be older than the stream's baseline and the
table is read again under the lock. While the POS fails, the watcher backs off and keeps
its streams: no stream is closed and no change invented because a read failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any

import structlog

from handlers._backoff import Backoff
from handlers._change_mode import ChangeMode
from handlers._context import HandlerContext, StreamListener
from handlers._deadline import Deadline
from handlers._records import OutgoingMessage, StreamRecord, WriteSet
from handlers._snapshots import snapshot_of
from handlers._streams import advance_stream, expire_stream, is_expired
from pos_drivers import Capability, CursorExpired, PosCheck, PosError, PushEvent

log = structlog.get_logger("pos_adapter.watcher")

SAFETY_NET_INTERVAL = 30.0
"""Seconds between batch polls beside a push channel that announces every change."""

Loop = Callable[[], Coroutine[Any, Any, None]]


@contextlib.asynccontextmanager
async def _closing(events: AsyncIterator[PushEvent]) -> AsyncGenerator[AsyncIterator[PushEvent]]:
    """The push iterator, closed on leaving (a generator's ``aclose`` ends its stream)."""
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


class Watcher(StreamListener):
    def __init__(
        self,
        ctx: HandlerContext,
        *,
        poll_interval: float = 2.0,
        mode: ChangeMode = ChangeMode.AUTO,
        concurrency: int = 8,
        expiry_check_interval: float = 60.0,
        read_timeout: float | None = None,
    ) -> None:
        """``read_timeout``: seconds one read of a table may take (default: the commands'
        ``pos_deadline``)."""
        self.ctx = ctx
        self.read_timeout = read_timeout or ctx.pos_deadline
        self.poll_interval = poll_interval
        self.mode = self._resolve_mode(mode)
        self.expiry_check_interval = expiry_check_interval
        self._watched: set[str] = set()
        self._watching = asyncio.Event()
        """Set while at least one stream is watched."""
        self._dirty: set[str] = set()
        self._announced: dict[str, str | None] = {}
        """The latest version announced for a dirty table; None: read it whatever."""
        self._reflected: dict[str, tuple[str, StreamRecord]] = {}
        """Per table, the POS version a submission's add produced and the stream as
        committed reflecting it, until its announcement comes (or a read supersedes it):
        as many entries as submissions in flight, not one per stream."""
        self._syncing: set[str] = set()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._pos_backoff = Backoff(initial=0.2, maximum=10.0)
        self._pos_ok = asyncio.Event()
        self._pos_ok.set()
        self.pos_calls = 0
        self.pos_failures = 0
        self.changes_pushed = 0

    # -- StreamListener --------------------------------------------------------------

    def stream_opened(self, pos_table_id: str) -> None:
        self._watched.add(pos_table_id)
        self._watching.set()

    def stream_ended(self, pos_table_id: str) -> None:
        self._watched.discard(pos_table_id)
        self._reflected.pop(pos_table_id, None)
        if not self._watched:
            self._watching.clear()

    def baseline_at(self, pos_table_id: str, version: str | None, stream: StreamRecord) -> None:
        if version is None:
            self._reflected.pop(pos_table_id, None)
        else:
            self._reflected[pos_table_id] = (version, stream)

    @property
    def watched(self) -> frozenset[str]:
        return frozenset(self._watched)

    def mark_dirty(self, pos_table_id: str, version: str | None = None) -> None:
        """The table may have changed (to ``version``, when the POS says)."""
        if pos_table_id not in self._watched:
            return
        already = pos_table_id in self._dirty
        if not already or self._announced.get(pos_table_id) is not None:
            self._announced[pos_table_id] = version
        self._dirty.add(pos_table_id)
        self._wakeup.set()

    def mark_all_dirty(self) -> None:
        self._dirty |= self._watched
        self._announced.clear()
        self._wakeup.set()

    # -- running ---------------------------------------------------------------------

    async def run(self) -> None:
        """Recover the active streams, then run every loop until cancelled (the worker
        runs :meth:`loops` under its own supervision instead)."""
        await self.recover()
        tasks = [asyncio.create_task(loop()) for _name, loop in self.loops()]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def recover(self) -> None:
        """Watch the active streams of the store (after a start or a take-over)."""
        tables = await self.ctx.store.active_stream_tables(self.ctx.location_id)
        for table, _opened in tables:
            self.stream_opened(table)
        log.info("watching", streams=len(self._watched), mode=self.mode.value)
        self.mark_all_dirty()

    def loops(self) -> list[tuple[str, Loop]]:
        """The watcher's loops by name, each to run as a task of its own."""
        loops: list[tuple[str, Loop]] = [
            ("watcher-sync", self._sync_loop), ("watcher-expiry", self._expiry_loop),
        ]
        if self.mode is ChangeMode.PUSH:
            loops.append(("watcher-push", self._push_loop))
            if self.ctx.driver.supports(Capability.BATCH_CHANGES):
                loops.append(("watcher-poll", self._safety_net_loop))
        elif self.mode is ChangeMode.POLL:
            loops.append(("watcher-poll", self._batch_poll_loop))
        else:
            loops.append(("watcher-table-poll", self._table_poll_loop))
        return loops

    def _resolve_mode(self, mode: ChangeMode) -> ChangeMode:
        driver = self.ctx.driver
        if mode is not ChangeMode.AUTO:
            return mode
        if driver.supports(Capability.PUSH_CHANGES):
            return ChangeMode.PUSH
        if driver.supports(Capability.BATCH_CHANGES):
            return ChangeMode.POLL
        return ChangeMode.TABLE_POLL

    async def _push_loop(self) -> None:
        """Follow the push channel while streams are watched (a location without any
        holds no connection to its POS)."""
        backoff = Backoff(initial=0.5, maximum=10.0)
        while True:
            await self._watching.wait()
            try:
                async with _closing(self.ctx.driver.push_events()) as events:
                    async for event in events:
                        backoff.reset()
                        if event.table_id is None:
                            self.mark_all_dirty()
                        else:
                            self.mark_dirty(event.table_id, event.version)
                        if not self._watching.is_set():
                            break  # nothing watched any more: let the connection go
                    else:
                        await asyncio.sleep(backoff.next_delay())
            except PosError as exc:
                self.pos_failures += 1
                log.warning("push channel failed", error=exc.message)
                await asyncio.sleep(backoff.next_delay())

    async def _safety_net_loop(self) -> None:
        """The batch poll beside a push channel."""
        complete = self.ctx.driver.supports(Capability.COMPLETE_PUSH)
        interval = max(self.poll_interval, SAFETY_NET_INTERVAL) if complete else None
        await self._batch_poll_loop(interval)

    async def _batch_poll_loop(self, interval: float | None = None) -> None:
        """One "what changed since" call per interval (``interval``: default the poll
        interval), while streams are watched."""
        interval = interval or self.poll_interval
        cursor: str | None = None
        backoff = Backoff(initial=interval, maximum=max(30.0, interval))
        while True:
            await self._watching.wait()
            try:
                self.pos_calls += 1
                changed = await self.ctx.driver.changes_since(cursor)
            except CursorExpired:
                log.info("change cursor unknown to the POS: resynchronising every table")
                cursor = None
                self.mark_all_dirty()
                continue
            except PosError as exc:
                self.pos_failures += 1
                delay = backoff.next_delay()
                log.warning("change poll failed", error=exc.message, retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            cursor = changed.cursor
            for table in changed.table_ids:
                self.mark_dirty(table)
            await asyncio.sleep(interval)

    async def _table_poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            self.mark_all_dirty()

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expiry_check_interval)
            now = self.ctx.clock()
            tables = await self.ctx.store.active_stream_tables(self.ctx.location_id)
            for table, opened_at in tables:
                if (now - opened_at).total_seconds() > self.ctx.stream_max_age:
                    await self._expire(table)

    async def _expire(self, table: str) -> None:
        ctx = self.ctx
        async with ctx.locks.hold(ctx.location_id, table):
            stream = await ctx.store.active_stream(ctx.location_id, table)
            if stream is None or not is_expired(stream, ctx.clock(), ctx.stream_max_age):
                return
            await ctx.store.commit(WriteSet(streams=[expire_stream(stream, ctx.clock())]))
        self.stream_ended(table)
        log.info("stream expired: no longer watched", stream_id=stream.stream_id,
                 posTableId=table, age_limit_s=ctx.stream_max_age)

    # -- reading tables --------------------------------------------------------------

    async def _sync_loop(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                await self._pos_ok.wait()
                ready = self._dirty - self._syncing
                for table in ready:
                    self._dirty.discard(table)
                    self._syncing.add(table)
                    announced = self._announced.pop(table, None)
                    task = asyncio.create_task(self._sync_guarded(table, announced))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _sync_guarded(self, table: str, announced: str | None = None) -> None:
        try:
            async with self._slots:
                await self.sync_table(table, announced)
            self._pos_backoff.reset()
        except PosError as exc:
            self.pos_failures += 1
            self._dirty.add(table)
            await self._pause_for_pos(exc)
        except Exception:
            log.exception("table sync failed", posTableId=table)
            self._dirty.add(table)
            await self._pause_for_pos(None)
        finally:
            self._syncing.discard(table)
            if self._dirty:
                self._wakeup.set()

    async def _pause_for_pos(self, exc: PosError | None) -> None:
        """Hold every read back for a while: the POS (or the store) is in trouble."""
        if not self._pos_ok.is_set():
            return
        self._pos_ok.clear()
        delay = self._pos_backoff.next_delay()
        log.warning("POS read failed; streams kept, retrying",
                    error=exc.message if exc else "unexpected", retry_in=round(delay, 2))
        try:
            await asyncio.sleep(delay)
        finally:
            self._pos_ok.set()
            self._wakeup.set()

    async def sync_table(self, table: str, announced: str | None = None) -> int | None:
        """Read the table and push what changed since the stream's baseline: how many
        changes, or None when the table has no active stream. Nothing is read when the
        stream already reflects the ``announced`` version."""
        ctx = self.ctx
        if announced is not None and await self._reflects(table, announced):
            return 0
        read_from = await ctx.store.active_stream(ctx.location_id, table)
        if read_from is None:
            self.stream_ended(table)
            return None
        check = await self._read(table)
        async with ctx.locks.hold(ctx.location_id, table):
            stream = await ctx.store.active_stream(ctx.location_id, table)
            if stream is None:
                self.stream_ended(table)
                return None
            if stream != read_from:
                # A command moved the stream while we read: our read may predate it.
                check = await self._read(table)
            advance = advance_stream(
                stream, await snapshot_of(ctx, table, check, stream.baseline), ctx.clock()
            )
            if advance.changed:
                await ctx.store.commit(
                    WriteSet(streams=[advance.stream], outbox=advance.messages)
                )
            self._reflected.pop(table, None)  # this read supersedes it
            if not advance.changed:
                return 0
        self._pushed(stream, advance.messages, advance.stream.last_sequence)
        if advance.closed:
            self.stream_ended(table)
        return len(advance.messages)

    async def _reflects(self, table: str, version: str) -> bool:
        """Whether the table's stream reflects the POS's check at ``version``. Under the
        table's lock: the command whose change was announced may be committing it."""
        ctx = self.ctx
        async with ctx.locks.hold(ctx.location_id, table):
            known = self._reflected.get(table)
            if known is None or known[0] != version:
                return False
            del self._reflected[table]  # one announcement per add
            return await ctx.store.active_stream(ctx.location_id, table) == known[1]

    async def _read(self, table: str) -> PosCheck:
        """One read of the table under the watcher's own deadline."""
        self.pos_calls += 1
        deadline = Deadline.after(self.read_timeout)
        try:
            async with asyncio.timeout_at(deadline.at):
                return await self.ctx.driver.read_check(table)
        except TimeoutError:
            raise deadline.exceeded("reading the table") from None

    def _pushed(self, stream: StreamRecord, messages: list[OutgoingMessage], last: int) -> None:
        self.changes_pushed += len(messages)
        if messages:
            log.info("changes pushed", posTableId=stream.pos_table_id,
                     stream_id=stream.stream_id, count=len(messages), sequence=last)
