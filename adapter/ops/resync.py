"""``pos-adapter resync <posTableId>``: the serving worker reads the table now and pushes
what changed (see ``adapter.control``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

import aio_pika
import typer

from adapter.amqp import connect_once
from adapter.commandline import LocationOption, run_async, settings_or_exit
from adapter.control import CONTROL_EXCHANGE

TIMEOUT = 30.0


def resync(
    pos_table_id: Annotated[str, typer.Argument(help="The POS table to read again.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    location: LocationOption = None,
) -> None:
    """Ask the running adapter to read a table now and push what changed."""
    settings = settings_or_exit(location)
    try:
        answer = run_async(_ask(settings.amqp_url, settings.location_id, pos_table_id))
    except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
        answer = {"ok": False, "error": f"no answer: {exc!r}"}
    if as_json:
        typer.echo(json.dumps(answer))
    elif answer.get("ok"):
        typer.echo(f"{pos_table_id}: {answer['changes']} change(s) pushed")
    else:
        typer.echo(f"{pos_table_id}: {answer['error']}", err=True)
    raise typer.Exit(0 if answer.get("ok") else 1)


async def _ask(amqp_url: str, location_id: str, table: str) -> dict[str, Any]:
    connection = await connect_once(amqp_url)
    async with connection:
        channel = await connection.channel(on_return_raises=True)
        replies = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if not answer.done():
                answer.set_result(json.loads(message.body))

        await replies.consume(on_reply, no_ack=True)
        request = {"command": "resync", "posTableId": table}
        control = await channel.declare_exchange(
            CONTROL_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
        try:
            await control.publish(
                aio_pika.Message(json.dumps(request).encode(), reply_to="amq.rabbitmq.reply-to",
                                 correlation_id=str(uuid.uuid4())),
                routing_key=location_id,
                mandatory=True,
            )
        except aio_pika.exceptions.PublishError:
            return {"ok": False, "error": f"no adapter is serving location {location_id}"}
        return await asyncio.wait_for(answer, TIMEOUT)
