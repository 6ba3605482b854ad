"""The CPU of a publish and of an ack, with and without waiting for the write to drain.

    .venv/bin/python -m bench.amqp_writes [--messages 6000] [--rounds 2] [--amqp-url URL]
                                          [--json out.json]

aiormq's ``basic_publish`` and ``basic_ack`` take ``wait``: with ``wait=True`` (the
default, and what aio-pika's ``Exchange.publish`` and ``IncomingMessage.ack`` use) the
caller waits until the connection's writer has drained the frame to the socket, a
future, a wake-up and a task switch per frame. In this process, against the broker:

- ``publish``: ``--messages`` publishes of 1.5 KB (publisher confirms, mandatory, each
  confirm awaited, ten at a time: the relay's shape) to a queue of this run's own;
- ``consume + ack``: as many deliveries of 300 bytes consumed (prefetch 32) and acked
  one by one: the command consumer's shape.

Each with ``wait=True`` then ``wait=False``, ``--rounds`` times in turn; this process's
CPU time per message, the median round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from bench._support import (
    amqp_url_from_env,
    command_line,
    facts_lines,
    machine_facts,
    markdown_table,
    run_and_report,
    unique_id,
)

IN_FLIGHT = 10


async def publishes(channel: aiormq.Channel, queue: str, count: int, *, wait: bool) -> float:
    """CPU µs per confirmed publish."""
    body = b"x" * 1500
    properties = aiormq.spec.Basic.Properties(delivery_mode=1)
    numbers = iter(range(count))

    async def publisher() -> None:
        for _ in numbers:
            await channel.basic_publish(body, routing_key=queue, properties=properties,
                                        mandatory=True, timeout=30, wait=wait)

    started = time.process_time()
    await asyncio.gather(*(publisher() for _ in range(IN_FLIGHT)))
    return (time.process_time() - started) / count * 1e6


async def acks(channel: AbstractChannel, queue: AbstractQueue, count: int, *,
               wait: bool) -> float:
    """CPU µs per delivery consumed and acked (the deliveries queued beforehand)."""
    for _ in range(count):
        await channel.default_exchange.publish(aio_pika.Message(b"x" * 300),
                                               routing_key=queue.name)
    done = asyncio.Event()
    acked = 0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal acked
        assert message.delivery_tag is not None
        await message.channel.basic_ack(message.delivery_tag, wait=wait)
        acked += 1
        if acked == count:
            done.set()

    started = time.process_time()
    tag = await queue.consume(on_message)
    await done.wait()
    spent = time.process_time() - started
    await queue.cancel(tag)
    return spent / count * 1e6


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    connection = await aio_pika.connect(args.amqp_url)
    rounds: dict[str, list[float]] = {}
    async with connection:
        publishing = await connection.channel(publisher_confirms=True)
        consuming = await connection.channel()
        await consuming.set_qos(prefetch_count=32)
        queue = await consuming.declare_queue(unique_id("bench-amqp-writes"), exclusive=True)
        underlay = await publishing.get_underlay_channel()
        assert isinstance(underlay, aiormq.Channel)
        for _ in range(args.rounds):
            for wait in (True, False):
                spent = await publishes(underlay, queue.name, args.messages, wait=wait)
                rounds.setdefault(f"publish, wait={wait}", []).append(spent)
                await queue.purge()
                spent = await acks(consuming, queue, args.messages, wait=wait)
                rounds.setdefault(f"consume + ack, wait={wait}", []).append(spent)
        facts = await machine_facts(connection)
    return {"facts": facts, "rounds": rounds, "messages": args.messages}


def report(result: dict[str, Any]) -> str:
    rows = [(name, statistics.median(spent), min(spent))
            for name, spent in sorted(result["rounds"].items())]
    return "\n".join([
        f"`{command_line('bench.amqp_writes')}`", "",
        markdown_table([f"operation ({result['messages']} messages)",
                        "CPU µs per message, median round", "best round"], rows),
        "", "Machine:", *facts_lines(result["facts"]),
    ])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--amqp-url", default=amqp_url_from_env())
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1:
        parser.error("--messages and --rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def document(result: dict[str, Any]) -> dict[str, Any]:
        return {"commandLine": command_line("bench.amqp_writes"), **result}

    return run_and_report(bench(args), report, document, args.json)


if __name__ == "__main__":
    sys.exit(main())
