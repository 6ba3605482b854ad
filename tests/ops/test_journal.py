"""Every delivery leaves a journal entry with its outcome, written by the dispatcher and
``answer()`` (no broker: the dispatcher on a SQLite store, commands the POS never sees)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from adapter.store import MessageQuery, SqlStore, StoredMessage, StoreReader
from adapter.testing import command
from handlers import (
    Ack,
    DeadLetter,
    Deadline,
    Delivery,
    Dispatcher,
    HandlerContext,
    Incoming,
    SnapshotHandler,
    TableLocks,
)
from pos_drivers import PosDriver
from schemas import MessageType, parse_command, utc_now

PROPERTIES = {"message_id": "m-1", "type": "TableOrderSnapshotRequested",
              "headers": {"schemaVersion": 1}, "delivery_mode": 2}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def ctx(store: SqlStore) -> HandlerContext:
    # The commands below are refused before the POS (another location): no driver needed.
    return HandlerContext(location_id="here", store=store, driver=cast(PosDriver, None),
                          locks=TableLocks())


def dispatcher(ctx: HandlerContext, **options: Any) -> Dispatcher:
    return Dispatcher(ctx, {MessageType.TABLE_ORDER_SNAPSHOT_REQUESTED: SnapshotHandler(ctx)},
                      **options)


def foreign(message_id: str = "m-1") -> bytes:
    """A snapshot request for another location: answered LOCATION_MISMATCH, POS untouched."""
    return json.dumps(command("TableOrderSnapshotRequested",
                              {"posTableId": "T1", "tableSessionId": "s-1"},
                              location_id="elsewhere", message_id=message_id)).encode()


async def journal(store: SqlStore) -> list[StoredMessage]:
    async with StoreReader(store.url) as reader:
        return await reader.messages(MessageQuery(direction="in"))


async def test_an_answer_journals_the_delivery_with_its_result(
    ctx: HandlerContext, store: SqlStore
) -> None:
    body = foreign()

    disposition = await dispatcher(ctx).dispatch(body, redelivered=False, properties=PROPERTIES)

    assert disposition == Ack("REJECTED:LOCATION_MISMATCH", "TableOrderSnapshotRequested")

    [entry] = await journal(store)
    inbox = await store.inbox_entry("m-1")
    assert inbox is not None
    assert inbox.result is not None
    assert entry.message_id == "m-1"
    assert entry.message_type == "TableOrderSnapshotRequested"
    assert entry.pos_table_id == "T1"
    assert entry.outcome == "REJECTED:LOCATION_MISMATCH"
    assert entry.result_message_id == inbox.result.message_id
    assert entry.body == body
    assert entry.properties == PROPERTIES


async def test_a_duplicate_is_journaled_with_the_result_published_again(
    ctx: HandlerContext, store: SqlStore
) -> None:
    dispatch = dispatcher(ctx).dispatch
    await dispatch(foreign(), redelivered=False)
    await dispatch(foreign(), redelivered=True)

    first, again = await journal(store)
    assert (first.outcome, again.outcome) == ("REJECTED:LOCATION_MISMATCH", "DUPLICATE")
    assert again.result_message_id == first.result_message_id
    assert again.properties is None  # the consumer passed none


@pytest.mark.parametrize(
    ("body", "message_id", "why"),
    [
        pytest.param(b"{not json", "m-1", "body is not JSON", id="not-json"),
        pytest.param(json.dumps({"messageId": "in-body", "messageType": "PizzaOrdered",
                                 "payload": {"posTableId": "T4"}}).encode(),
                     "in-body", "unknown messageType", id="unknown-type"),
    ],
)
async def test_poison_is_journaled_before_it_is_dead_lettered(
    ctx: HandlerContext, store: SqlStore, body: bytes, message_id: str, why: str
) -> None:
    disposition = await dispatcher(ctx).dispatch(body, redelivered=False, properties=PROPERTIES)

    assert isinstance(disposition, DeadLetter)
    [entry] = await journal(store)
    assert entry.outcome == f"DEAD_LETTERED:{disposition.reason}"
    assert why in entry.outcome
    assert entry.message_id == message_id
    assert entry.body == body
    assert entry.result_message_id is None


async def test_a_body_over_the_limit_is_journaled_without_it(
    ctx: HandlerContext, store: SqlStore
) -> None:
    await dispatcher(ctx, max_bytes=100).dispatch(b"x" * 101, redelivered=False,
                                                  properties=PROPERTIES)

    [entry] = await journal(store)
    assert entry.body is None
    assert entry.message_id == "m-1"  # from the AMQP properties
    assert "over the limit" in entry.outcome


async def test_a_crash_is_journaled_and_still_raised(
    ctx: HandlerContext, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(_self: SnapshotHandler, _incoming: Incoming) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(SnapshotHandler, "handle", crash)

    with pytest.raises(RuntimeError, match="boom"):
        await dispatcher(ctx).dispatch(foreign(), redelivered=False)

    [entry] = await journal(store)
    assert entry.outcome == "CRASHED:RuntimeError"


async def test_too_many_redeliveries_are_journaled_as_dead_lettered(
    ctx: HandlerContext, store: SqlStore
) -> None:
    dispatch = dispatcher(ctx, count_redeliveries=True, max_redeliveries=1).dispatch
    for _ in range(2):
        await store.count_redelivery("m-1")

    disposition = await dispatch(foreign(), redelivered=True)

    assert isinstance(disposition, DeadLetter)
    [entry] = await journal(store)
    assert entry.outcome.startswith("DEAD_LETTERED:delivered 4 times")


async def test_a_handler_run_outside_a_delivery_is_journaled_without_a_body(
    ctx: HandlerContext, store: SqlStore
) -> None:
    no_delivery = Delivery(None, None, utc_now())
    await SnapshotHandler(ctx).handle(
        Incoming(parse_command(foreign()), no_delivery, Deadline.after(1.0))
    )

    [entry] = await journal(store)
    assert entry.body is None
    assert entry.outcome == "REJECTED:LOCATION_MISMATCH"
