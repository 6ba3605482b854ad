"""The outbox relay: publishes owed messages in order, with confirms kept in flight.

Rows arrive from the store right after each commit (no polling) and, after a start, a
reconnect or a failure, from the store itself, a page at a time as confirms come back:
after a long broker outage the backlog stays in the store, not in memory. Up to
``window`` publishes are in flight at once; a row counts as sent only when the broker
confirmed it, and confirmed rows are marked sent in order. A return (unroutable) or
a nack parks the row's location alone, with a back-off of its own, while the other
locations' messages go on; once its back-off is over, the relay reads what is owed again
from the first unconfirmed row. A lost channel stops the whole pipeline, which resends
from the first unconfirmed row as soon as the channel is restored. So the last delivery
of each of a stream's messages comes in order (consumers de-duplicate by messageId): a
route that appears while a location's rows are in flight can let a later row through
before an earlier one that was returned a moment before, and that later row goes again
after it.
A message is counted as out (``pos_adapter_messages_out_total``) on its confirm.
A row caused by a command goes out with the command's W3C trace context in its
``traceparent`` / ``tracestate`` headers; with tracing on, its publish is a producer span
(``adapter.tracing``).

One relay serves every location the process serves, and only those
(:meth:`OutboxRelay.serve`, :meth:`OutboxRelay.unserve`): a location handed over to
another process stops being published here before its lease is released, so that two
processes never publish one stream at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

import aiormq
import structlog
from aio_pika.abc import AbstractRobustChannel
from aiormq.abc import AbstractChannel
from pamqp.common import FieldTable

from adapter import tracing
from adapter.metrics import Metrics
from adapter.store import OutboxRow, SqlStore
from handlers import Backoff

log = structlog.get_logger("pos_adapter.relay")

APP_ID = "pos-adapter"
PUBLISH_TIMEOUT = 30.0
CHANNEL_LOST_PAUSE = 0.05
PAGE = 1000
"""Rows read from the store at once; the next page is read when fewer than half are left."""


class _Restart(Exception):
    """A location joined: read what is owed again, its rows among them."""


def message_properties(
    row: OutboxRow, trace_headers: Mapping[str, str] | None = None
) -> aiormq.spec.Basic.Properties:
    """AMQP properties mirroring the envelope (contract §1), with the trace context:
    ``trace_headers`` (the publish span's), else the row's own."""
    message = row.message
    headers: FieldTable = {"schemaVersion": 1}
    if trace_headers is None and row.trace is not None:
        trace_headers = row.trace.headers()
    if trace_headers:
        headers.update(trace_headers)
    return aiormq.spec.Basic.Properties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        message_type=message.message_type,
        timestamp=message.occurred_at,
        app_id=APP_ID,
        headers=headers,
    )


class OutboxRelay:
    def __init__(
        self,
        store: SqlStore,
        channel: AbstractRobustChannel,
        exchange: str,
        *,
        window: int = 256,
        metrics: Metrics | None = None,
        locations: Iterable[str] | None = None,
    ) -> None:
        """``locations``: those served from the start (None: every location, for a relay
        of its own; see :meth:`serve`)."""
        self._served: set[str] | None = None if locations is None else set(locations)
        self._restart = False
        self._parked: dict[str, float] = {}
        """Locations whose messages wait (a return or nack): until when (monotonic)."""
        self._backoffs: dict[str, Backoff] = {}
        self._in_flight: deque[tuple[OutboxRow, asyncio.Task[bool]]] = deque()
        self._settled = asyncio.Event()
        self._store = store
        self._channel = channel
        self._exchange = exchange
        self._window = window
        self._metrics = metrics
        self._pending: deque[OutboxRow] = deque()
        self._last_queued = 0
        self._page_from: int | None = None
        """Where the next page starts: None for the first unsent row."""
        self._in_store = True
        """Owed rows may be in the store that are not in ``_pending``: page them in."""
        self._loading = False
        self._notified_while_loading: list[OutboxRow] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self.published = 0
        store.on_outbox(self.notify)

    def serve(self, location_id: str) -> None:
        """Publish the location's rows too, from its first owed one."""
        if self._served is None or location_id in self._served:
            return
        self._served.add(location_id)
        self._restart = True
        self._idle.clear()
        self._wakeup.set()

    async def unserve(self, location_id: str, timeout: float) -> bool:
        """Stop publishing the location's rows, once those owed are out (within
        ``timeout``; ``0``: at once). Rows not published by then stay owed in the store,
        for the next holder; rows in flight are waited for. False if any was left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        flushed = await self._until(lambda: not self._owes(location_id), deadline)
        if self._served is not None:
            self._served.discard(location_id)
        self._pending = deque(r for r in self._pending if r.message.location_id != location_id)
        settled = await self._until(
            lambda: not any(r.message.location_id == location_id for r, _ in self._in_flight),
            max(deadline, loop.time() + PUBLISH_TIMEOUT),
        )
        return flushed and settled

    def _owes(self, location_id: str) -> bool:
        return self._in_store or any(
            row.message.location_id == location_id
            for row in (*self._pending, *(row for row, _ in self._in_flight))
        )

    async def _until(self, done: Callable[[], bool], deadline: float) -> bool:
        """Wait (woken by each confirm) until ``done()``; False at ``deadline``."""
        try:
            async with asyncio.timeout_at(deadline):
                while not done():
                    self._settled.clear()
                    await self._settled.wait()
        except TimeoutError:
            return done()
        return True

    def _served_rows(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The rows of the locations published now (served, not parked)."""
        served, parked = self._served, self._parked
        return [row for row in rows
                if (served is None or row.message.location_id in served)
                and row.message.location_id not in parked]

    def notify(self, rows: list[OutboxRow]) -> None:
        """Take rows just committed (called by the store, in id order)."""
        rows = self._served_rows(rows)
        if not rows:
            return
        if self._loading:
            # The page's query may have run already: keep them for after it.
            self._notified_while_loading.extend(rows)
        elif not self._in_store:
            self._enqueue(rows)
        # Otherwise the store holds owed rows before them: a page will bring them in.
        self._idle.clear()
        self._wakeup.set()

    @property
    def in_memory(self) -> int:
        """Owed rows held in memory (at most a page and a half; the rest is in the store)."""
        return len(self._pending)

    async def flush(self, timeout: float) -> bool:
        """Wait until nothing is owed; False if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        while True:
            try:
                await self._channel.ready()
                await self._pump(_concrete(await self._channel.get_underlay_channel()))
            except _Restart:
                self._schedule_reload(None)
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                # ``ready()`` then waits for the connection to be restored: no back-off
                # of our own on top of it, so that results flow as soon as it is back.
                self._schedule_reload(None)
                log.warning("relay channel lost", error=repr(exc))
                await asyncio.sleep(CHANNEL_LOST_PAUSE)
            except Exception:
                # The store, most likely: whoever runs the relay again starts it afresh
                # from the first unsent row.
                self._schedule_reload(None)
                raise

    def _schedule_reload(self, first_id: int | None) -> None:
        """Read again from ``first_id`` (None: the first unsent row) on the next pump."""
        self._in_store = True
        self._page_from = first_id
        self._last_queued = 0 if first_id is None else first_id - 1
        self._pending.clear()
        self._idle.clear()

    def _park(self, row: OutboxRow, reason: str) -> None:
        """Hold the row's location back (a return or a nack): its messages wait, from
        this one on, while the other locations' go on."""
        location = row.message.location_id
        backoff = self._backoffs.setdefault(location, Backoff(initial=0.1, maximum=5.0))
        delay = backoff.next_delay()
        self._parked[location] = time.monotonic() + delay
        self._pending = deque(r for r in self._pending if r.message.location_id != location)
        log.warning("publish refused; the location's messages wait, then go again",
                    locationId=location, reason=reason, retry_in=round(delay, 2))

    def _unpark_due(self) -> None:
        """Let the locations whose wait is over go again (a reload reads their rows)."""
        now = time.monotonic()
        due = [location for location, until in self._parked.items() if until <= now]
        for location in due:
            del self._parked[location]
        if due:
            self._restart = True

    def _until_unpark(self) -> float | None:
        """Seconds until the next parked location may go again; None when none waits."""
        if not self._parked:
            return None
        return max(0.0, min(self._parked.values()) - time.monotonic())

    def _enqueue(self, rows: list[OutboxRow]) -> None:
        for row in rows:
            if row.id > self._last_queued:
                self._pending.append(row)
                self._last_queued = row.id

    async def _page_in(self) -> None:
        """Queue the next page of owed rows from the store."""
        self._loading = True
        try:
            locations = None if self._served is None else sorted(self._served)
            rows = await self._store.outbox_from(self._page_from, limit=PAGE,
                                                 locations=locations,
                                                 excluding=sorted(self._parked))
            self._enqueue(rows)
            if len(rows) == PAGE:
                self._page_from = rows[-1].id + 1
            else:
                self._in_store = False
                self._enqueue(self._served_rows(self._notified_while_loading))
        finally:
            self._loading = False
            self._notified_while_loading = []
        if len(rows) == PAGE:
            log.info("owed messages: paging them in from the store", page=len(rows))

    async def _pump(self, underlay: aiormq.Channel) -> None:
        in_flight = self._in_flight
        try:
            while True:
                self._unpark_due()
                if self._restart:
                    self._restart = False
                    raise _Restart
                if self._in_store and len(self._pending) < PAGE // 2:
                    await self._page_in()
                while self._pending and len(in_flight) < self._window:
                    row = self._pending.popleft()
                    task = asyncio.create_task(self._publish(underlay, row))
                    task.add_done_callback(lambda _t: self._wakeup.set())
                    in_flight.append((row, task))
                confirmed = self._settle_head(in_flight)
                if confirmed:
                    self._settled.set()
                    self._store.mark_sent(confirmed)
                    self.published += len(confirmed)
                if not in_flight and not self._pending and not self._in_store:
                    self._settled.set()
                    if not self._parked:  # a parked location still owes its messages
                        self._idle.set()
                self._wakeup.clear()
                if self._pending and len(in_flight) < self._window:
                    continue
                if self._in_store and len(self._pending) < PAGE // 2:
                    continue
                if in_flight and in_flight[0][1].done():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._until_unpark())
        finally:
            if in_flight:
                await asyncio.gather(*(task for _row, task in in_flight), return_exceptions=True)
                in_flight.clear()
            self._settled.set()

    def _settle_head(
        self, in_flight: deque[tuple[OutboxRow, asyncio.Task[bool]]]
    ) -> list[int]:
        """The ids confirmed at the head of the pipeline, in order. A refused row parks
        its location; later rows of a parked location do not count as sent (they go
        again after it). A lost channel raises: everything goes again."""
        confirmed: list[int] = []
        while in_flight and in_flight[0][1].done():
            row, task = in_flight.popleft()
            location = row.message.location_id
            refused = _refusal(task)
            if refused is not None:
                if location not in self._parked:
                    self._park(row, refused)
                continue
            if location in self._parked:
                continue
            self._backoffs.pop(location, None)
            confirmed.append(row.id)
            if self._metrics is not None:
                self._metrics.published(location, row.message.message_type)
        return confirmed

    async def _publish(self, underlay: aiormq.Channel, row: OutboxRow) -> bool:
        if row.trace is None or not tracing.enabled():
            return await self._send(underlay, row, message_properties(row))
        message = row.message
        with tracing.publish_span(row.trace, message.message_type, {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.destination.name": self._exchange,
            "messaging.rabbitmq.destination.routing_key": message.routing_key,
            "messaging.message.id": message.message_id,
            "locationId": message.location_id,
            "posTableId": message.pos_table_id,
        }) as headers:
            confirmed = await self._send(underlay, row, message_properties(row, headers))
            if not confirmed:
                tracing.failed("nacked")
            return confirmed

    async def _send(
        self, underlay: aiormq.Channel, row: OutboxRow, properties: aiormq.spec.Basic.Properties
    ) -> bool:
        # wait=False: the frames are queued for the connection's writer and the confirm
        # awaited, without a wait for each write to drain to the socket (a wake-up and a
        # task switch per publish; the window bounds what is queued).
        result = await underlay.basic_publish(
            row.message.body,
            exchange=self._exchange,
            routing_key=row.message.routing_key,
            properties=properties,
            mandatory=True,
            timeout=PUBLISH_TIMEOUT,
            wait=False,
        )
        return isinstance(result, aiormq.spec.Basic.Ack)


def _concrete(channel: AbstractChannel) -> aiormq.Channel:
    """aiormq's channel: its publish can skip the wait for the write to drain."""
    if not isinstance(channel, aiormq.Channel):  # pragma: no cover - aio-pika's is one
        raise RuntimeError(f"unexpected channel {channel!r}")
    return channel


def _refusal(task: asyncio.Task[bool]) -> str | None:
    """Why the broker refused the row (a return or a nack), None when it confirmed it;
    raises when the channel failed (nothing can be said of the row)."""
    if task.cancelled():
        raise ConnectionError("a publish was cancelled: the channel is going away")
    exc = task.exception()
    if isinstance(exc, aiormq.exceptions.PublishError):
        return repr(exc)
    if exc is not None:
        raise exc
    return None if task.result() else "nacked"
