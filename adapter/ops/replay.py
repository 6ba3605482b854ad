"""``pos-adapter replay``: publish stored messages again, for a consumer that lost them.

It selects messages as ``pos-adapter messages list`` does (the same filters, or
``--message-id``, repeatable) and prints the plan: what would be published, where. Only
``--execute`` publishes. Each message is published once (a message received or
published several times is replayed once), in the order it was first received or
published, so the changes of a stream keep their sequence order.

- An outgoing message (result, change, health report) is published again to the events
  exchange with its original messageId and the properties the outbox relay gives it
  (``adapter.amqp.message_properties``), persistent, mandatory, with publisher confirms.
  OpenApp's consumers de-duplicate by messageId, so one that did get it loses nothing.
- An incoming command is put back on the command exchange, routing key
  ``<locationId>.<messageType>``, with its original body and messageId. The adapter's
  inbox de-duplicates by messageId: it answers with the stored result again (same result
  messageId), without calling the POS. That is the way to get a lost result out again
  when the outbox row is gone.
- ``--reprocess`` makes the command new instead: a new messageId (uuid4) in the body and
  in the AMQP property, and the header ``x-pos-adapter-replay-of`` with the original. The
  inbox's de-duplication key is the messageId, so only a new one makes the adapter handle
  the command afresh (read the table again, for instance). A submission stays protected:
  it is applied to the POS at most once per submissionId, whatever the messageId, and a
  new message with a known submissionId gets the stored outcome.

The AMQP properties of a replayed command are the ones the journal recorded for its
delivery (aio-pika's ``IncomingMessage.info()`` names), persistent, without ``user_id``
(the broker checks it against the replaying user), ``expiration`` (a replay is meant to
arrive) and the headers the broker adds on its way (``x-death``, ``x-delivery-count``...).
Publishing is one message at a time, each confirmed before the next (``--rate`` paces
it further); the first connection or channel failure stops the replay, and what was not
published is reported as such.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

import aiormq
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from adapter.amqp import connect_once, message_properties
from adapter.commandline import LocationOption, run_async, settings_or_exit
from adapter.ops.messages import (
    DirectionOption,
    JsonOption,
    SinceOption,
    TableOption,
    TypeOption,
    UntilOption,
    console,
    message_query,
    print_json,
    read_store,
    when,
)
from adapter.ops.pacing import Pace
from adapter.settings import Settings
from adapter.store import MessageQuery, StoredMessage
from schemas import BROKER_HEADERS, REPLAY_HEADER, json_object, utc_from_iso

PUBLISH_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Step:
    """One message to publish."""

    source: StoredMessage
    message_id: str
    exchange: str
    routing_key: str
    body: bytes
    properties: aiormq.spec.Basic.Properties
    result: str = "planned"

    @property
    def replay_of(self) -> str | None:
        original = self.source.message_id
        return original if original != self.message_id else None


def plan(
    messages: list[StoredMessage],
    settings: Settings,
    *,
    reprocess: bool,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[list[Step], list[tuple[StoredMessage, str]]]:
    """The steps, and the messages left out with the reason why."""
    steps: list[Step] = []
    skipped: list[tuple[StoredMessage, str]] = []
    seen: set[tuple[str, str]] = set()
    for message in messages:
        why = _unplayable(message)
        if why is not None:
            skipped.append((message, why))
            continue
        assert message.message_id is not None
        key = (message.direction, message.message_id)
        if key in seen:
            continue
        seen.add(key)
        if message.direction == "out":
            steps.append(_outgoing_step(message, settings))
            continue
        step = _command_step(message, settings, new_id() if reprocess else None)
        if isinstance(step, str):
            skipped.append((message, step))
        else:
            steps.append(step)
    return steps, skipped


def _unplayable(message: StoredMessage) -> str | None:
    if not message.message_id or not message.message_type:
        return "no usable messageId or messageType"
    if message.body is None:
        return "its body was not kept (over the size limit)"
    return None


def _outgoing_step(message: StoredMessage, settings: Settings) -> Step:
    row = message.outbox_row()
    return Step(
        source=message, message_id=row.message.message_id,
        exchange=settings.events_exchange, routing_key=row.message.routing_key,
        body=row.message.body, properties=message_properties(row),
    )


def _command_step(message: StoredMessage, settings: Settings, new_id: str | None) -> Step | str:
    """The step that puts a command back; with ``new_id``, as a new command."""
    assert message.message_id is not None
    assert message.body is not None
    body = message.body
    if new_id is not None:
        envelope = json_object(body)
        if envelope is None:
            return "not a JSON object: it cannot be given a new messageId"
        envelope["messageId"] = new_id
        body = json.dumps(envelope, ensure_ascii=False).encode()
    message_id = new_id or message.message_id
    replay_of = message.message_id if new_id is not None else None
    return Step(
        source=message, message_id=message_id, exchange=settings.commands_exchange,
        routing_key=f"{message.location_id}.{message.message_type}", body=body,
        properties=command_properties(message, message_id, replay_of=replay_of),
    )


def command_properties(
    message: StoredMessage, message_id: str, *, replay_of: str | None
) -> aiormq.spec.Basic.Properties:
    """The AMQP properties the command arrived with (see the module docstring)."""
    recorded = message.properties or {}
    headers = {
        key: value for key, value in (recorded.get("headers") or {}).items()
        if key not in BROKER_HEADERS and key != REPLAY_HEADER
    }
    if replay_of is not None:
        headers[REPLAY_HEADER] = replay_of
    return aiormq.spec.Basic.Properties(
        content_type=recorded.get("content_type") or "application/json",
        content_encoding=recorded.get("content_encoding"),
        headers=headers or None,
        delivery_mode=2,
        priority=recorded.get("priority"),
        correlation_id=recorded.get("correlation_id") or message.correlation_id,
        reply_to=recorded.get("reply_to"),
        message_id=message_id,
        timestamp=utc_from_iso(recorded.get("timestamp")),
        message_type=recorded.get("type") or message.message_type,
        app_id=recorded.get("app_id"),
    )


# -- publishing -----------------------------------------------------------------------------


async def publish(
    settings: Settings, steps: list[Step], *, rate: float | None,
    advance: Callable[[], None] = lambda: None,
) -> list[Step]:
    """Publish each step, confirmed; the steps with their results."""
    try:
        connection = await connect_once(settings.amqp_url, timeout=10)
    except (aiormq.exceptions.AMQPError, ConnectionError, OSError, TimeoutError) as exc:
        return [replace(step, result=f"not published: cannot connect ({exc!r})")
                for step in steps]
    done: list[Step] = []
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        underlay = await channel.get_underlay_channel()
        pace = Pace(rate)
        for index, step in enumerate(steps):
            await pace.wait()
            result, fatal = await _publish_one(underlay, step)
            done.append(replace(step, result=result))
            advance()
            if fatal:
                done += [replace(s, result="not published: stopped after a failure")
                         for s in steps[index + 1:]]
                break
    return done


async def _publish_one(channel: aiormq.abc.AbstractChannel, step: Step) -> tuple[str, bool]:
    """("published" or why not, whether the channel is unusable)."""
    try:
        confirm = await channel.basic_publish(
            step.body, exchange=step.exchange, routing_key=step.routing_key,
            properties=step.properties, mandatory=True, timeout=PUBLISH_TIMEOUT,
        )
    except aiormq.exceptions.PublishError:
        return "returned: no queue is bound for it", False
    except (aiormq.exceptions.AMQPError, ConnectionError, TimeoutError) as exc:
        return f"failed: {exc!r}", True
    if isinstance(confirm, aiormq.spec.Basic.Ack):
        return "published", False
    return "nacked by the broker", False


# -- the command ----------------------------------------------------------------------------


def replay(
    message_ids: Annotated[
        list[str] | None,
        typer.Option("--message-id", help="Replay this messageId (repeatable)."),
    ] = None,
    table: TableOption = None,
    message_type: TypeOption = None,
    direction: DirectionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many, the latest.")
    ] = None,
    execute: Annotated[
        bool, typer.Option("--execute", help="Publish (without it, only the plan is shown).")
    ] = False,
    reprocess: Annotated[
        bool, typer.Option("--reprocess", help="Commands get a new messageId and are handled "
                           "afresh instead of answered from the inbox.")
    ] = False,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0.01, help="At most N messages per second.")
    ] = None,
    json_output: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """Publish stored messages again (the plan only, unless --execute).

    Results and changes go to OpenApp again with their messageId; commands go back to
    the adapter, which answers them from its inbox (or afresh with --reprocess).
    """
    if not (message_ids or table or message_type or direction or since or until):
        typer.echo("pos-adapter: say what to replay: --message-id, or filters (--table, "
                   "--type, --direction, --since, --until)", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit(location)
    query: MessageQuery = message_query(
        table=table, message_type=message_type, direction=direction, since=since,
        until=until, limit=limit, message_ids=message_ids or (), location=location,
    )
    messages = read_store(settings.store_url, lambda reader: reader.messages(query))
    steps, skipped = plan(messages, settings, reprocess=reprocess)
    if not execute or not steps:
        _report(steps, skipped, executed=execute, json_output=json_output)
        return
    done = _run_publish(settings, steps, rate, show_progress=not json_output)
    _report(done, skipped, executed=True, json_output=json_output)
    if any(step.result != "published" for step in done):
        raise typer.Exit(1)


def _run_publish(
    settings: Settings, steps: list[Step], rate: float | None, *, show_progress: bool
) -> list[Step]:

    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, transient=True,
        disable=not show_progress or len(steps) < 2,
    )
    with progress:
        task = progress.add_task("replaying", total=len(steps))
        return run_async(publish(settings, steps, rate=rate,
                                 advance=lambda: progress.advance(task)))


def _step_document(step: Step, *, executed: bool) -> dict[str, Any]:
    """A step as JSON. A reprocessed command's new messageId is drawn when it is
    published: in a plan it is null."""
    source = step.source
    return {
        "direction": source.direction,
        "messageId": step.message_id if executed or step.replay_of is None else None,
        "replayOf": step.replay_of,
        "messageType": source.message_type,
        "posTableId": source.pos_table_id,
        "exchange": step.exchange,
        "routingKey": step.routing_key,
        "result": step.result,
    }


def _report(
    steps: list[Step], skipped: list[tuple[StoredMessage, str]], *, executed: bool,
    json_output: bool,
) -> None:
    if json_output:
        print_json({
            "executed": executed,
            "messages": [_step_document(step, executed=executed) for step in steps],
            "skipped": [{"direction": m.direction, "messageId": m.message_id,
                         "messageType": m.message_type, "why": why} for m, why in skipped],
        })
        return
    if not steps:
        console.print("Nothing to replay.")
    else:
        console.print(_steps_table(steps, executed=executed))
    for message, why in skipped:
        console.print(f"left out: {message.direction} {message.message_id or '-'} "
                      f"({message.message_type or '-'}): {why}")
    if not steps:
        return
    if executed:
        published = sum(step.result == "published" for step in steps)
        console.print(f"Published {published} of {len(steps)}.")
    else:
        console.print(f"Nothing published: add --execute to publish these {len(steps)}.")


def _steps_table(steps: list[Step], *, executed: bool) -> Table:
    table = Table(title="Replayed" if executed else "Replay plan")
    table.add_column("dir")
    table.add_column("messageId", overflow="fold")
    table.add_column("type", overflow="fold")
    table.add_column("table")
    table.add_column("first seen (UTC)", no_wrap=True)
    table.add_column("goes to", overflow="fold")
    if executed:
        table.add_column("result", overflow="fold")
    for step in steps:
        message_id = step.message_id
        if step.replay_of is not None:
            new = step.message_id if executed else "a new messageId"
            message_id = f"{new} (replays {step.replay_of})"
        row = [step.source.direction, message_id, step.source.message_type or "-",
               step.source.pos_table_id or "-", when(step.source.at, short=True),
               f"{step.exchange} / {step.routing_key}"]
        table.add_row(*row, *([step.result] if executed else []))
    return table
