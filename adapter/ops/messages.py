"""``pos-adapter messages``: what the adapter received and published, read from its store.

Incoming messages come from the journal (every delivery, poison and duplicates included,
with its outcome), outgoing ones from the outbox (every result, change and health report,
sent or still owed). Both are kept for ``POS_ADAPTER_RETENTION``. The command reads the
store at ``POS_ADAPTER_STORE_URL`` and never writes to it, so it is safe beside a running
adapter (SQLite in WAL lets a reader in another process go on without blocking it).

Times are UTC. ``--since`` / ``--until`` take ISO 8601 (``2026-11-21T19:00:00Z``; without
an offset it is UTC) or a span back from now (``90s``, ``30m``, ``1h``, ``2d``, ``1w``,
``1h30m``).

This module also holds what the other operators' commands share: the message filters,
the time parsing and the store reading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from adapter.amqp import message_properties
from adapter.commandline import LocationOption, run_async, settings_or_exit
from adapter.store import MessageQuery, StoredMessage, StoreReader, StoreUnavailable
from schemas import RESULT_TYPES, as_utc, utc_from_iso, utc_now

T = TypeVar("T")

app = typer.Typer(
    help="The messages the adapter received (journal) and published (outbox).",
    no_args_is_help=True,
)
console = Console(highlight=False)

DEFAULT_LIMIT = 50
RESULT_TYPE_NAMES = frozenset(str(t) for t in RESULT_TYPES.values())
CHANGE_TYPE = "TableOrderSnapshotChanged"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


TableOption = Annotated[
    str | None, typer.Option("--table", metavar="TABLE", help="Only this posTableId.")
]
TypeOption = Annotated[
    str | None, typer.Option("--type", metavar="TYPE", help="Only this messageType.",
                              show_default=False)
]
DirectionOption = Annotated[
    Direction | None,
    typer.Option("--direction", help="in: received (journal); out: published (outbox)."),
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="TIME", help="From this time: ISO 8601 (UTC unless an "
                 "offset is given) or a span back from now like 30m, 1h, 2d."),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", metavar="TIME",
                              help="Up to this time (same forms as --since).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON for machines.")]


# -- shared by the operators' commands ------------------------------------------------------

_SPAN = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when it has no offset), or a span back from ``now``."""
    compact = text.strip().lower().replace(" ", "")
    if compact and _SPAN.sub("", compact) == "":
        span = timedelta()
        for amount, unit in _SPAN.findall(compact):
            span += timedelta(**{_UNITS[unit]: float(amount)})
        return (now or utc_now()) - span
    parsed = utc_from_iso(text.strip())
    if parsed is None:
        raise ValueError(f"{text!r} is neither an ISO 8601 time nor a span like 30m, 1h, 2d")
    return parsed


def message_query(
    *,
    table: str | None,
    message_type: str | None,
    direction: Direction | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    message_ids: Iterable[str] = (),
    location: str | None = None,
) -> MessageQuery:
    """The store query for the command-line filters (a bad time is a usage error)."""
    times: dict[str, datetime | None] = {}
    for option, text in (("--since", since), ("--until", until)):
        try:
            times[option] = parse_time(text) if text is not None else None
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None
    return MessageQuery(
        pos_table_id=table,
        location_id=location,
        message_type=message_type,
        direction=None if direction is None else ("in" if direction is Direction.IN else "out"),
        since=times["--since"],
        until=times["--until"],
        message_ids=tuple(message_ids),
        limit=limit,
    )


def read_store(url: str, job: Callable[[StoreReader], Awaitable[T]]) -> T:
    """Run ``job`` with a reader of the store at ``url``; exit 2 when it cannot be read."""

    async def main() -> T:
        async with StoreReader(url) as reader:
            return await job(reader)

    try:
        return run_async(main())
    except StoreUnavailable as exc:
        typer.echo(f"pos-adapter: {exc}", err=True)
        raise typer.Exit(2) from None


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def when(value: datetime | None, *, short: bool = False) -> str:
    """A time for people: UTC, to the millisecond (``short``: without the year, for
    tables; the retention is days, not years)."""
    if value is None:
        return "-"
    text = as_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return text[5:] if short else text


def iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def summary(message: StoredMessage) -> dict[str, Any]:
    """A message without its body, as JSON."""
    document: dict[str, Any] = {
        "direction": message.direction,
        "messageId": message.message_id,
        "messageType": message.message_type,
        "locationId": message.location_id,
        "posTableId": message.pos_table_id,
        "correlationId": message.correlation_id,
    }
    if message.direction == "in":
        document |= {
            "receivedAt": iso(message.at),
            "outcome": message.outcome,
            "resultMessageId": message.result_message_id,
        }
    else:
        document |= {
            "createdAt": iso(message.at),
            "occurredAt": iso(message.occurred_at),
            "sentAt": iso(message.sent_at),
        }
    return document


def status(message: StoredMessage) -> str:
    """What became of it: the outcome of an incoming one, sent or owed for an outgoing one."""
    if message.direction == "in":
        return message.outcome or "-"
    return f"sent {when(message.sent_at)[11:]}" if message.sent_at else "owed (not sent yet)"


# -- messages list --------------------------------------------------------------------------


@app.command("list")
def list_messages(
    table: TableOption = None,
    message_type: TypeOption = None,
    direction: DirectionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="At most this many, the latest.")
    ] = DEFAULT_LIMIT,
    json_output: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """List messages received and published, oldest first (the latest --limit of them)."""
    settings = settings_or_exit(location)
    query = message_query(table=table, message_type=message_type, direction=direction,
                          since=since, until=until, limit=limit, location=location)
    messages = read_store(settings.store_url, lambda reader: reader.messages(query))
    if json_output:
        print_json([summary(message) for message in messages])
        return
    if not messages:
        console.print("No messages match.")
        return
    console.print(messages_table(messages))


def messages_table(messages: Iterable[StoredMessage], *, title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("dir")
    table.add_column("messageId", overflow="fold")
    table.add_column("type", overflow="fold")
    table.add_column("table")
    table.add_column("outcome / sent", overflow="fold")
    table.add_column("correlationId", overflow="fold")
    for message in messages:
        table.add_row(
            when(message.at, short=True), message.direction, message.message_id or "-",
            message.message_type or "-", message.pos_table_id or "-", status(message),
            message.correlation_id or "-",
        )
    return table


# -- messages show --------------------------------------------------------------------------


async def _related(reader: StoreReader, records: list[StoredMessage]) -> dict[str, Any]:
    """What a message links to: a command's result and the stream it opened, the command
    a result answers, the request that opened a change's stream."""
    related: dict[str, Any] = {}
    results = {r.result_message_id for r in records if r.direction == "in" and r.result_message_id}
    if results:
        related["result"] = await reader.messages(
            MessageQuery(direction="out", message_ids=tuple(results))
        )
    correlated = {
        r.correlation_id for r in records if r.direction == "out" and r.correlation_id
    }
    if correlated:
        commands = await reader.messages(
            MessageQuery(direction="in", message_ids=tuple(correlated))
        )
        is_change = any(r.message_type == CHANGE_TYPE for r in records)
        related["openedBy" if is_change else "command"] = commands
    incoming_ids = {r.message_id for r in records if r.direction == "in" and r.message_id}
    for message_id in incoming_ids:
        stream = await reader.stream_opened_by(message_id)
        if stream is not None:
            related["openedStream"] = stream
    return related


@app.command("show")
def show_message(
    message_id: Annotated[str, typer.Argument(help="The messageId.")],
    json_output: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """Show one message in full, with the messages it links to.

    Every time it was received or published; a command's result and the stream it
    opened, a result's command, a change's opening request.
    """
    settings = settings_or_exit(location)

    async def job(reader: StoreReader) -> tuple[list[StoredMessage], dict[str, Any]]:
        records = await reader.messages(MessageQuery(message_ids=(message_id,)))
        return records, await _related(reader, records)

    records, related = read_store(settings.store_url, job)
    if not records:
        typer.echo(
            f"pos-adapter: no message {message_id!r} in the store (messages are kept for "
            "POS_ADAPTER_RETENTION)", err=True,
        )
        raise typer.Exit(1)
    if json_output:
        print_json(_show_document(message_id, records, related))
        return
    _print_show(records, related)


def full(message: StoredMessage) -> dict[str, Any]:
    """A message with its body (parsed when it is JSON) and its properties, as JSON."""
    document = summary(message)
    body, text = _body(message.body)
    document["body"] = body
    if text is not None:
        document["bodyText"] = text
    document["properties"] = _properties(message)
    return document


def _show_document(
    message_id: str, records: list[StoredMessage], related: dict[str, Any]
) -> dict[str, Any]:
    document: dict[str, Any] = {"messageId": message_id, "records": [full(r) for r in records]}
    for relation, value in related.items():
        if relation == "openedStream":
            document[relation] = {"streamId": value.stream_id, "status": value.status.value,
                                  "posTableId": value.pos_table_id,
                                  "lastSequence": value.last_sequence}
        else:
            document[relation] = [summary(m) for m in value]
    return document


def _body(body: bytes | None) -> tuple[Any, str | None]:
    """(the body as JSON, None), or (None, its text) when it is not JSON."""
    if body is None:
        return None, None
    try:
        return json.loads(body), None
    except (ValueError, RecursionError):
        return None, body.decode("utf-8", errors="replace")


def _properties(message: StoredMessage) -> dict[str, Any] | None:
    """Incoming: as the delivery had them. Outgoing: the ones the relay gives it."""
    if message.direction == "in":
        return message.properties
    properties = message_properties(message.outbox_row())
    return {
        "content_type": properties.content_type,
        "delivery_mode": properties.delivery_mode,
        "message_id": properties.message_id,
        "correlation_id": properties.correlation_id,
        "type": properties.message_type,
        "timestamp": iso(properties.timestamp),
        "app_id": properties.app_id,
        "headers": properties.headers,
    }


_LABELS = {
    "result": "Its result",
    "command": "The command it answers",
    "openedBy": "The request that opened its stream",
}


def _print_show(records: list[StoredMessage], related: dict[str, Any]) -> None:
    for record in records:
        verb = "Received" if record.direction == "in" else "Published"
        console.rule(f"{verb} {when(record.at)} UTC")
        grid = Table.grid(padding=(0, 2))
        for key, value in summary(record).items():
            grid.add_row(key, "-" if value is None else str(value))
        console.print(grid)
        body, text = _body(record.body)
        if body is not None:
            console.print(JSON.from_data(body))
        elif text is not None:
            console.print(text[:2000], markup=False)
    for relation, label in _LABELS.items():
        if related.get(relation):
            console.print(messages_table(related[relation], title=label))
        elif relation == "command" and "command" in related:
            console.print(f"{label}: not in the journal (pruned, or received before it).")
    stream = related.get("openedStream")
    if stream is not None:
        console.print(
            f"It opened stream {stream.stream_id} on table {stream.pos_table_id} "
            f"({stream.status.value}, sequence {stream.last_sequence}): "
            f"pos-adapter streams show {stream.pos_table_id}"
        )
