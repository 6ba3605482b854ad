"""``pos-adapter demo``: the mock POS and the adapter in one process, a table played through.

It plays OpenApp's side on the local broker: asks for a table's snapshot after a waiter
put lines on it, then watches the changes the waiter and the kitchen make, until the
check is paid and the stream ends with ORDER_CLOSED.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from adapter.amqp import (
    BROKER_UNREACHABLE,
    broker_urls,
    connect_failure,
    connect_once,
    without_credentials,
)
from adapter.settings import LogFormat, LogLevel, Settings
from adapter.worker import Worker
from pos_drivers.mock import MockPosControl, MockPosServer

console = Console()
WAIT = 15.0


async def run_demo(settings: Settings, table: str) -> int:
    """Play the scenario; 1 with one line on stdout when it cannot be played here."""
    try:
        probe = await connect_once(settings.amqp_url, timeout=5)
    except Exception as exc:
        _say_why_not(settings, exc)
        return 1
    async with probe:
        consumers = await _consumers(probe, settings.command_queue)
        ours = [name for name in (settings.command_queue, settings.dead_letter_queue)
                if await _consumers(probe, name) is None]
    if consumers:
        # The broker would hand the demo's commands to that worker and its POS (or keep
        # the demo's worker waiting as a standby on a single-active-consumer queue).
        console.print(
            f"[red]A worker already serves location {settings.location_id!r}[/red] "
            f"({consumers} consumer(s) on {settings.command_queue}): stop it, or play the "
            "demo for another location, e.g. `POS_ADAPTER_LOCATION_ID=demo-2 make demo`.",
            soft_wrap=True,
        )
        return 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return await _play(settings, table, Path(tmp))
    finally:
        await _delete_queues(settings.amqp_url, ours)


def _say_why_not(settings: Settings, exc: BaseException) -> None:
    what, detail = connect_failure(exc, broker_urls(settings.amqp_url)[-1])
    if what == BROKER_UNREACHABLE:
        console.print(
            f"[red]No RabbitMQ answers at {without_credentials(settings.amqp_url)}[/red]: "
            "start one with `rabbitmq-server -detached` or `docker run -p 5672:5672 "
            "rabbitmq:3`, then run `make demo` again.",
            soft_wrap=True,
        )
    else:
        console.print(
            f"[red]{what}[/red] at {without_credentials(settings.amqp_url)}: {detail} (see "
            "docs/deployment.md, TLS to the broker).",
            soft_wrap=True,
        )


async def _consumers(connection: AbstractConnection, queue: str) -> int | None:
    """The queue's consumer count, or None when there is no such queue."""
    channel = await connection.channel()  # a passive declare of a missing queue closes it
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return None
    await channel.close()
    return declared.declaration_result.consumer_count or 0


async def _delete_queues(amqp_url: str, queues: list[str]) -> None:
    """Remove the queues the demo's worker declared (not those that were there before):
    a demo leaves no durable queue behind on the broker."""
    if not queues:
        return
    with suppress(aio_pika.exceptions.AMQPError, OSError):
        connection = await connect_once(amqp_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            for queue in queues:
                await channel.queue_delete(queue)


async def _play(base: Settings, table: str, tmp: Path) -> int:
    async with MockPosServer() as pos, MockPosControl(pos.url) as control:
        await control.reset()
        settings = base.model_copy(
            update={
                "driver": "mock",
                "pos_url": pos.url,
                "store_url": f"sqlite+aiosqlite:///{tmp / 'demo.db'}",
                "inbox_queue": False,
                "metrics_port": 0,
                "log_level": LogLevel.WARNING,
                "log_format": LogFormat.CONSOLE,
            }
        )
        from adapter.logging import configure_logging

        configure_logging(settings.log_level, settings.log_format)
        console.rule(f"[bold]pos-adapter demo[/bold]: mock POS at {pos.url}, table {table}")
        worker = Worker(settings)
        running = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.started.wait(), WAIT)
        try:
            await _scenario(settings, control, table)
        finally:
            worker.request_stop()
            await running
    console.rule("[bold green]done[/bold green]")
    return 0


async def _scenario(settings: Settings, control: MockPosControl, table: str) -> None:
    connection = await connect_once(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        events = await channel.get_exchange(settings.events_exchange)
        commands = await channel.get_exchange(settings.commands_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(events, routing_key=f"{settings.location_id}.#")
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_event(message: AbstractIncomingMessage) -> None:
            async with message.process():
                await received.put(json.loads(message.body))

        await queue.consume(on_event)

        console.print("[cyan]waiter[/cyan] seats table and adds 2 × ceviche, 1 × chicha")
        await control.add_waiter_lines(
            table, [{"productId": "ceviche", "quantity": 2}, {"productId": "chicha", "quantity": 1}]
        )
        session = str(uuid.uuid4())

        async def send(message: dict[str, Any]) -> dict[str, Any]:
            _show("OpenApp → POS", message)
            await commands.publish(
                aio_pika.Message(json.dumps(message).encode(), content_type="application/json",
                                 message_id=message["messageId"], type=message["messageType"]),
                routing_key=f"{settings.location_id}.{message['messageType']}",
            )
            answer = await asyncio.wait_for(received.get(), WAIT)
            _show("POS → OpenApp", answer)
            return answer

        console.print("[cyan]diner[/cyan] scans the QR code")
        await send(_command(settings.location_id, "TableOrderSnapshotRequested", {
            "posTableId": table, "tableSessionId": session, "reason": "SESSION_START"}))

        console.print("[cyan]diner[/cyan] orders a causa, and a suspiro at yesterday's price")
        result = await send(_command(settings.location_id, "OrderSubmissionRequested", {
            "submissionId": f"sub-{uuid.uuid4().hex[:8]}",
            "orderContext": {"type": "TABLE", "posTableId": table, "tableSessionId": session},
            "items": [
                {"lineId": "oa-1", "productId": "causa", "quantity": 1, "unitPrice": 2200},
                {"lineId": "oa-2", "productId": "suspiro", "quantity": 1, "unitPrice": 1200},
            ],
        }))

        console.print("[cyan]waiter[/cyan] adds 1 × pisco sour")
        await control.add_waiter_lines(table, [{"productId": "pisco-sour", "quantity": 1}])
        _show("POS → OpenApp", await asyncio.wait_for(received.get(), WAIT))

        causa = result["payload"]["acceptedItems"][0]["posLineId"]
        console.print("[cyan]kitchen[/cyan] starts preparing the diner's causa")
        await control.patch_line(causa, status="PREPARING")
        _show("POS → OpenApp", await asyncio.wait_for(received.get(), WAIT))

        console.print("[cyan]cashier[/cyan] takes payment and closes the check")
        await control.close_table(table)
        _show("POS → OpenApp", await asyncio.wait_for(received.get(), WAIT))


def _command(location_id: str, message_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "messageType": message_type,
        "schemaVersion": 1,
        "locationId": location_id,
        "occurredAt": datetime.now(UTC).isoformat(),
        "correlationId": None,
        "expiresAt": None,
        "payload": payload,
    }


def _show(direction: str, message: dict[str, Any]) -> None:
    payload = message.get("payload", {})
    title = f"{direction}  [bold]{message.get('messageType')}[/bold]"
    facts = Table.grid(padding=(0, 2))
    for key in ("outcome", "changeType", "sequence", "streamId", "posTableId", "reason",
                "submissionId", "posOrderId"):
        if payload.get(key) is not None:
            facts.add_row(key, str(payload[key]))
    for item in payload.get("items", []):
        facts.add_row("  item", f"{item['quantity']} × {item['productId']} "
                      f"at {item['unitPrice'] / 100:.2f}")
    for item in payload.get("acceptedItems", []):
        facts.add_row("  accepted", f"{item['lineId']} -> POS line {item['posLineId']}")
    for item in payload.get("rejectedItems", []):
        extra = item.get("currentUnitPrice")
        facts.add_row("  rejected", f"{item['lineId']}: {item['reason']}"
                      + (f" (now {extra / 100:.2f})" if extra is not None else ""))
    snapshot = payload.get("snapshot")
    if snapshot:
        facts.add_row("check", f"{snapshot.get('posOrderId')} ({snapshot.get('orderStatus')}), "
                      f"version {snapshot.get('version')}")
        for line in snapshot.get("lines", []):
            facts.add_row(
                "  line",
                f"{line['quantity']} × {line['name']}  {line['totalPrice'] / 100:.2f} "
                f"{snapshot.get('currency')}  {line['status']}  ({line['origin']})",
            )
        totals = snapshot.get("totals", {})
        facts.add_row("total", f"{totals.get('total', 0) / 100:.2f} {snapshot.get('currency')}")
    if payload.get("rejection"):
        facts.add_row("rejection", json.dumps(payload["rejection"]))
    console.print(Panel(facts, title=title, title_align="left", expand=False))
