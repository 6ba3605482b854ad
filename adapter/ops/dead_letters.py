"""The location's dead-letter queue as a protocol: its messages read without consuming
them, replayed to the command exchange, purged. No rendering: ``adapter.ops.dlq`` is the
command line on top of it.

Reading must not consume. AMQP 0-9-1 has no "peek", so a reader takes every message of
the queue as unacknowledged deliveries of one consumer (prefetch = the queue's length)
and then closes the channel: the broker puts unacknowledged deliveries back. Three
details make that exact on classic and quorum queues alike (RabbitMQ 3.10 was observed
doing what follows; ``tests/ops/test_dlq.py`` checks the result on both):

- *All* messages are held, even when only a few are shown. A classic queue puts a message
  given back where it was; a quorum queue puts it behind the messages given back earlier
  and not yet taken again, so after any earlier read, giving back the first ten of fifty
  would move them to the end.
- They are given back by closing the channel, never by nacks: a quorum queue appends
  nacked messages to its end, and beyond 32 in flight it batches them in no particular
  order. ``basic.get`` is no better: each get is a consumer of its own, and a closed
  channel gives those back in no particular order either.
- Closing the channel returns before the broker has put everything back, so the reader
  waits until the queue holds as many ready messages again: the next command (or script
  line) sees the whole queue.

Reading is a redelivery: ``redelivered`` becomes true and a quorum queue counts one more
delivery (header ``x-delivery-count``). The dead-letter queue has no delivery limit, so
that is harmless (a policy that gave it one would make reads count toward it). A reader
that dies (kill -9, lost connection) gives everything back too; only a quorum queue's
order may then differ. Messages dead-lettered while a command reads stay behind the ones
it holds, as they would anyway. While one command holds the messages, another sees only
what arrived since (it warns when other consumers are attached). The broker's
``consumer_timeout`` (30 min by default) bounds how long a replay may hold what it leaves
in place.

``replay`` removes a message only after the broker confirmed its copy on the command
exchange: a crash in between leaves it in both places, and the adapter's inbox answers
the second delivery by its messageId (which the copy keeps) without touching the POS.
"""

from __future__ import annotations

import asyncio
import base64
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeAlias

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from adapter.amqp import connect_once, persistent_copy, without_credentials
from adapter.ops.pacing import Pace
from adapter.settings import Settings
from schemas import (
    BROKER_HEADERS,
    COMMAND_TYPES,
    DEATH_HEADER,
    ERROR_HEADER,
    as_utc,
    json_object,
)

FRESH_START_HEADERS = BROKER_HEADERS | {ERROR_HEADER}
"""Headers a replayed command drops: a dead-lettering's history, which the broker and the
adapter add, so that the copy starts fresh."""

CONNECT_TIMEOUT = 10.0
IDLE_TIMEOUT = 5.0
"""Seconds without a delivery after which reading stops short (another consumer took
messages, or they expired): the command says so instead of waiting forever."""
GIVE_BACK_TIMEOUT = 10.0
GIVE_BACK_POLL = 0.02
MAX_PREFETCH = 65535
"""The largest prefetch AMQP can express; a longer queue is read with no limit."""

ROUTING_WORD = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
ReplayOutcome: TypeAlias = Literal["planned", "replayed", "skipped", "failed", "not-tried"]
Warn: TypeAlias = Callable[[str], None]
"""Where a reader says what went wrong without failing (the command line colours it)."""


class DlqError(Exception):
    """What went wrong, in one line for the operator (exit code 1)."""


def warn_on_stderr(text: str) -> None:
    """The warnings of a reader nobody gave ``warn``: plain lines on stderr."""
    print(f"warning: {text}", file=sys.stderr)


class ReplayProgress(Protocol):
    """Told how far an executed replay got (a progress bar)."""

    def start(self, total: int) -> None:
        """The replay will publish ``total`` messages."""

    def advance(self) -> None:
        """One more was published, or failed."""


# --- one message --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead-lettered message, at its position in the queue (1 is the head)."""

    position: int
    message: AbstractIncomingMessage = field(repr=False, compare=False)
    envelope: dict[str, Any] | None = field(repr=False, compare=False)
    """The body as a JSON object, when it is one."""

    @classmethod
    def of(cls, position: int, message: AbstractIncomingMessage) -> Letter:
        return cls(position, message, json_object(message.body))

    @property
    def body(self) -> bytes:
        return self.message.body

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.message.headers or {})

    @property
    def message_id(self) -> str | None:
        """The AMQP ``message_id``, else the body's ``messageId``."""
        return self.message.message_id or _envelope_text(self.envelope, "messageId")

    @property
    def message_type(self) -> str | None:
        """The AMQP ``type``, else the body's ``messageType``."""
        return self.message.type or _envelope_text(self.envelope, "messageType")

    @property
    def reason(self) -> str | None:
        """Why it was dead-lettered: the adapter's reason, else the broker's ``x-death``."""
        headers = self.headers
        if ERROR_HEADER in headers:
            return _text(headers[ERROR_HEADER])
        death = _last_death(headers)
        if death is None:
            return None
        return (f"{_text(death.get('reason'))} in {_text(death.get('queue'))} "
                f"(x-death, count {death.get('count')})")

    @property
    def timestamp(self) -> datetime | None:
        """The AMQP ``timestamp``, else when the broker dead-lettered it."""
        if self.message.timestamp is not None:
            return as_utc(self.message.timestamp)
        death = _last_death(self.headers)
        when = death.get("time") if death else None
        return as_utc(when) if isinstance(when, datetime) else None

    def matches(self, wanted: Iterable[str]) -> bool:
        ids = {self.message.message_id, _envelope_text(self.envelope, "messageId")}
        return any(candidate in ids for candidate in wanted)

    def properties(self) -> dict[str, JsonValue]:
        """Every AMQP property, JSON-safe (timestamps ISO 8601, bytes base64)."""
        message = self.message
        raw: dict[str, Any] = {
            "content_type": message.content_type,
            "content_encoding": message.content_encoding,
            "headers": self.headers,
            "delivery_mode": int(message.delivery_mode) if message.delivery_mode else None,
            "priority": message.priority,
            "correlation_id": message.correlation_id,
            "reply_to": message.reply_to,
            "expiration": message.properties.expiration,
            "message_id": message.message_id,
            "timestamp": message.timestamp,
            "type": message.type,
            "user_id": message.user_id,
            "app_id": message.app_id,
            "cluster_id": message.cluster_id or None,
        }
        return {name: json_safe(value) for name, value in raw.items()}

    def summary(self) -> dict[str, JsonValue]:
        """The row ``list`` shows."""
        return {
            "position": self.position,
            "messageId": self.message_id,
            "type": self.message_type,
            "reason": self.reason,
            "size": len(self.body),
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
        }

    def record(self) -> dict[str, JsonValue]:
        """The line ``dump`` writes: enough to inspect or re-publish the message."""
        line: dict[str, JsonValue] = {
            "position": self.position,
            "properties": self.properties(),
            "body_base64": base64.b64encode(self.body).decode("ascii"),
        }
        text = _utf8(self.body)
        if text is not None:
            line["body_text"] = text
        return line


def json_safe(value: Any) -> JsonValue:
    """A header or property value as JSON: field tables and arrays recursively, timestamps
    ISO 8601, byte strings base64 (a long string that is not UTF-8 arrives as bytes)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return repr(value)


def _envelope_text(envelope: dict[str, Any] | None, key: str) -> str | None:
    value = envelope.get(key) if envelope else None
    return value if isinstance(value, str) and value else None


def _last_death(headers: dict[str, Any]) -> dict[str, Any] | None:
    """The newest ``x-death`` entry (the broker puts it first)."""
    deaths = headers.get(DEATH_HEADER)
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return None


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- the queue, held ----------------------------------------------------------------------


async def connect(settings: Settings) -> AbstractConnection:
    """A plain connection: a robust one would reconnect and consume again behind our back."""
    try:
        return await connect_once(settings.amqp_url, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, aiormq.exceptions.AMQPError) as exc:
        raise DlqError(f"no RabbitMQ answers at {without_credentials(settings.amqp_url)} "
                       f"({type(exc).__name__}: {exc})") from None


async def existing_queue(channel: AbstractChannel, settings: Settings) -> AbstractQueue:
    """The dead-letter queue, declared passively: never created or changed from here."""
    try:
        return await channel.declare_queue(settings.dead_letter_queue, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        raise DlqError(
            f"queue {settings.dead_letter_queue} does not exist: the adapter of location "
            f"{settings.location_id} declares it when it starts (is POS_ADAPTER_LOCATION_ID "
            "right?)"
        ) from None


class _Deliveries:
    """Deliveries in the order the broker numbered them on the channel (1, 2, 3, ...):
    the client runs each delivery's callback as a task of its own, so order by tag."""

    def __init__(self) -> None:
        self._waiting: dict[int, AbstractIncomingMessage] = {}
        self._arrived = asyncio.Event()
        self._next = 1

    async def put(self, message: AbstractIncomingMessage) -> None:
        self._waiting[message.delivery_tag or 0] = message
        self._arrived.set()

    async def next(self, idle_timeout: float) -> AbstractIncomingMessage | None:
        """The next delivery, or None after ``idle_timeout`` seconds without any."""
        while self._next not in self._waiting:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), idle_timeout)
            except TimeoutError:
                return None
        self._next += 1
        return self._waiting.pop(self._next - 1)


class DeadLetterQueue:
    """The location's dead-letter queue with all its messages held, unacknowledged, while
    the context is open; on exit the ones not ``remove``-d go back where they were (see the
    module docstring) before the context returns."""

    def __init__(
        self, settings: Settings, *, idle_timeout: float = IDLE_TIMEOUT,
        warn: Warn = warn_on_stderr,
    ) -> None:
        self.settings = settings
        self.name = settings.dead_letter_queue
        self.total = 0
        """Ready messages when the command started: the ones it reads."""
        self.read = 0
        self.removed = 0
        self.other_consumers = 0
        """Consumers already on the queue: what they hold unacknowledged is not seen."""
        self.connection: AbstractConnection | None = None
        self._idle_timeout = idle_timeout
        self._warn = warn
        self._channel: AbstractChannel | None = None
        self._deliveries = _Deliveries()

    async def __aenter__(self) -> Self:
        self.connection = await connect(self.settings)
        try:
            self._channel = await self.connection.channel()
            queue = await existing_queue(self._channel, self.settings)
            self.total = _message_count(queue)
            self.other_consumers = _consumer_count(queue)
            if self.total:
                await self._channel.set_qos(prefetch_count=_prefetch(self.total))
                await queue.consume(self._deliveries.put, no_ack=False)
        except BaseException:
            await self.connection.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.connection is not None
        try:
            await self._give_back()
        except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as error:
            # The broker gives back a lost channel's messages anyway; only say so.
            self._warn(f"giving the messages back to {self.name} was cut short "
                       f"({type(error).__name__})")
        finally:
            await self.connection.close()

    @property
    def complete(self) -> bool:
        return self.read == self.total

    async def letters(self) -> AsyncIterator[Letter]:
        """Every message, head first; stops short when the queue shrank while reading."""
        while self.read < self.total:
            message = await self._deliveries.next(self._idle_timeout)
            if message is None:
                return
            self.read += 1
            yield Letter.of(self.read, message)

    async def remove(self, letter: Letter) -> None:
        await letter.message.ack()
        self.removed += 1

    async def _give_back(self) -> None:
        """Close the channel (the broker requeues what it holds), then wait until the queue
        has that many ready messages again: requeueing finishes after the close returns."""
        assert self.connection is not None
        if self._channel is None or self.connection.is_closed:
            return
        if not self._channel.is_closed:
            await self._channel.close()
        expected = self.total - self.removed
        if not expected:
            return
        channel = await self.connection.channel()
        try:
            async with asyncio.timeout(GIVE_BACK_TIMEOUT):
                # No event tells when the broker is done: ask it.
                while _message_count(await existing_queue(channel, self.settings)) < expected:  # noqa: ASYNC110
                    await asyncio.sleep(GIVE_BACK_POLL)
        except TimeoutError:
            self._warn(f"{self.name} has not got all {expected} messages back yet; another "
                       "consumer may hold some")


def _message_count(queue: AbstractQueue) -> int:
    result = queue.declaration_result
    return int(result.message_count or 0) if result is not None else 0


def _consumer_count(queue: AbstractQueue) -> int:
    result = queue.declaration_result
    return int(result.consumer_count or 0) if result is not None else 0


def _prefetch(total: int) -> int:
    return total if total <= MAX_PREFETCH else 0


async def read_all(
    settings: Settings, *, warn: Warn = warn_on_stderr
) -> tuple[list[Letter], DeadLetterQueue]:
    """Every message of the queue, which is left as it was."""
    async with DeadLetterQueue(settings, warn=warn) as queue:
        letters = [letter async for letter in queue.letters()]
    return letters, queue


def find(letters: Sequence[Letter], target: str) -> Letter | None:
    """By position when ``target`` is a number in range, else by messageId."""
    if target.isdigit() and 1 <= int(target) <= len(letters):
        return letters[int(target) - 1]
    return next((letter for letter in letters if letter.matches([target])), None)


# --- replay and purge ---------------------------------------------------------------------


@dataclass(slots=True)
class ReplayItem:
    """One selected message: where it would go (or why not), and what became of it."""

    letter: Letter
    routing_key: str | None
    skip: str | None
    outcome: ReplayOutcome = "planned"
    error: str | None = None

    def summary(self, exchange: str) -> dict[str, JsonValue]:
        row = self.letter.summary()
        row.update({
            "action": "skip" if self.skip else "replay",
            "exchange": None if self.skip else exchange,
            "routingKey": self.routing_key,
            "skipReason": self.skip,
            "outcome": self.outcome,
            "error": self.error,
        })
        return row


@dataclass(slots=True)
class ReplayReport:
    queue: str
    exchange: str
    execute: bool
    total: int = 0
    items: list[ReplayItem] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    source: DeadLetterQueue | None = None

    @property
    def replayed(self) -> int:
        return sum(item.outcome == "replayed" for item in self.items)

    @property
    def failed(self) -> bool:
        return any(item.outcome == "failed" for item in self.items)

    @property
    def to_replay(self) -> int:
        return sum(item.skip is None for item in self.items)

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "queue": self.queue,
            "exchange": self.exchange,
            "execute": self.execute,
            "total": self.total,
            "selected": len(self.items),
            "replayed": self.replayed,
            "messages": [item.summary(self.exchange) for item in self.items],
            "notFound": list(self.not_found),
        }


def replay_route(letter: Letter, settings: Settings) -> tuple[str | None, str | None]:
    """``(routing key, None)`` on the command exchange, or ``(None, why it is skipped)``:
    the AMQP ``type`` if it names a command, else the body's ``messageType``."""
    candidates = [letter.message.type, _envelope_text(letter.envelope, "messageType")]
    for candidate in candidates:
        if candidate and ROUTING_WORD.match(candidate) and candidate in COMMAND_TYPES:
            return f"{settings.location_id}.{candidate}", None
    seen = ", ".join(repr(c) for c in candidates if c) or "none"
    return None, f"no command messageType (AMQP type / body messageType: {seen})"


def fresh_copy(letter: Letter) -> aio_pika.Message:
    """The command as OpenApp sent it (the adapter's inbox recognises a second delivery by
    its messageId), without the dead-lettering headers."""
    return persistent_copy(letter.message, {
        name: value for name, value in letter.headers.items()
        if name not in FRESH_START_HEADERS})


async def _commands_exchange(connection: AbstractConnection, settings: Settings
                             ) -> AbstractExchange:
    """A confirming channel's view of the command exchange (declared passively)."""
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        return await channel.get_exchange(settings.commands_exchange, ensure=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        raise DlqError(f"exchange {settings.commands_exchange} does not exist") from None


async def replay(
    settings: Settings,
    *,
    message_ids: Sequence[str],
    execute: bool,
    rate: float | None = None,
    progress: ReplayProgress | None = None,
    warn: Warn = warn_on_stderr,
) -> ReplayReport:
    """Plan the replay of the selected messages (all when ``message_ids`` is empty) and,
    with ``execute``, do it: publish each (mandatory, confirmed), then remove it."""
    report = ReplayReport(settings.dead_letter_queue, settings.commands_exchange, execute)
    async with DeadLetterQueue(settings, warn=warn) as queue:
        report.total, report.source = queue.total, queue
        async for letter in queue.letters():
            if not message_ids or letter.matches(message_ids):
                report.items.append(ReplayItem(letter, *replay_route(letter, settings)))
        report.not_found = [i for i in dict.fromkeys(message_ids)
                            if not any(item.letter.matches([i]) for item in report.items)]
        if execute:
            assert queue.connection is not None
            exchange = await _commands_exchange(queue.connection, settings)
            await _publish_all(queue, exchange, report, Pace(rate), progress)
    return report


async def _publish_all(queue: DeadLetterQueue, exchange: AbstractExchange,
                       report: ReplayReport, pace: Pace, progress: ReplayProgress | None
                       ) -> None:
    """In queue order; the first failure stops the replay (what follows stays in place,
    so commands for one table are never replayed out of order)."""
    if progress is not None:
        progress.start(report.to_replay)
    for item in report.items:
        if item.skip is not None:
            item.outcome = "skipped"
            continue
        if report.failed:
            item.outcome = "not-tried"
            continue
        await pace.wait()
        item.error = await _publish(exchange, item)
        if item.error is None:
            await queue.remove(item.letter)
        item.outcome = "failed" if item.error else "replayed"
        if progress is not None:
            progress.advance()


async def _publish(exchange: AbstractExchange, item: ReplayItem) -> str | None:
    """None once the broker confirmed the copy; else why not."""
    assert item.routing_key is not None
    try:
        await exchange.publish(fresh_copy(item.letter), routing_key=item.routing_key,
                               mandatory=True)
    except aiormq.exceptions.PublishError:
        return f"unroutable: no queue is bound to {item.routing_key}"
    except aiormq.exceptions.DeliveryError:
        return "the broker refused it (nack)"
    except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    queue: str
    execute: bool
    messages: int
    """Ready messages found (plan) or deleted (execute)."""
    other_consumers: int


async def purge(settings: Settings, *, execute: bool) -> PurgeReport:
    """Count the ready messages and, with ``execute``, delete them (unacknowledged ones,
    e.g. held by a concurrent ``list``, are not purged and come back)."""
    connection = await connect(settings)
    async with connection:
        queue = await existing_queue(await connection.channel(), settings)
        consumers = _consumer_count(queue)
        if not execute:
            return PurgeReport(settings.dead_letter_queue, False, _message_count(queue),
                               consumers)
        result = await queue.purge()
        return PurgeReport(settings.dead_letter_queue, True, int(result.message_count or 0),
                           consumers)
