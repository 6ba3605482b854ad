"""A command's deadline is one budget: the wait for its table, every POS call and every
retry come out of it (contract §5; issue: a command answered within its deadline)."""

from __future__ import annotations

import asyncio

import pytest

from handlers import Ack
from pos_drivers import PosUnavailable
from tests.handlers.conftest import Harness, MakeHarness, item, submission

SNAPSHOT = "TableOrderSnapshotRequested"
SUBMISSION = "OrderSubmissionRequested"


async def test_a_command_waiting_for_a_busy_table_is_answered_at_its_deadline(
    make_harness: MakeHarness,
) -> None:
    harness: Harness = await make_harness(pos_deadline=0.3)
    ctx = harness.ctx

    async with ctx.locks.hold(ctx.location_id, "T1"):  # someone keeps the table busy
        disposition, message_id = await harness.send(
            SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"})

    assert disposition == Ack("REJECTED:POS_UNAVAILABLE", SNAPSHOT)
    rejection = harness.result_for(message_id)["rejection"]
    assert rejection["retryable"] is True
    assert "busy" in rejection["message"]
    assert harness.pos_api_requests() == []  # it never reached the POS


async def test_every_pos_call_of_a_submission_shares_one_budget(
    make_harness: MakeHarness,
) -> None:
    """Each call (table read, products) is faster than the deadline; together they are
    not: the submission is answered POS_UNAVAILABLE, and nothing reached the POS."""
    harness: Harness = await make_harness(pos_deadline=0.5)
    await harness.pos.set_faults(latency_ms=300)

    _, message_id = await harness.send(SUBMISSION, submission("T1", [item("l1")]))

    result = harness.result_for(message_id)
    assert result["rejection"]["reason"] == "POS_UNAVAILABLE"
    assert result["rejection"]["retryable"] is True
    assert (await harness.pos.table("T1"))["open"] is None


async def test_lines_that_may_be_on_the_pos_at_the_deadline_are_reconciled_on_retry(
    make_harness: MakeHarness,
) -> None:
    """The deadline passes while the lines are being added (the mock applies a change,
    then delays its answer): POS_UNAVAILABLE, and the retry finds the lines instead of
    adding them again."""
    harness: Harness = await make_harness(pos_deadline=0.5)
    assert await harness.ctx.driver.ping()  # the table names are known: one call per read
    await harness.pos.set_faults(latency_ms=200)  # read 0.2 + products 0.2 + add 0.2
    request = submission("T1", [item("l1"), item("l2", "chicha", 900)])

    _, first = await harness.send(SUBMISSION, request)
    on_the_pos = (await harness.pos.table("T1"))["open"]["lines"]
    await harness.pos.set_faults(latency_ms=0)
    _, again = await harness.send(SUBMISSION, request)

    assert harness.result_for(first)["rejection"]["reason"] == "POS_UNAVAILABLE"
    assert len(on_the_pos) == 2  # the add went through; its answer came too late
    retried = harness.result_for(again)
    assert retried["outcome"] == "ACCEPTED"
    check = (await harness.pos.table("T1"))["open"]
    assert [line["lineId"] for line in check["lines"]] == [
        accepted["posLineId"] for accepted in retried["acceptedItems"]
    ]  # on the POS once


async def test_the_watcher_reading_a_slow_table_does_not_hold_its_commands_up(
    make_harness: MakeHarness,
) -> None:
    harness: Harness = await make_harness(pos_deadline=0.7)
    _, opened = await harness.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"})
    assert harness.result_for(opened)["outcome"] == "RESOLVED"
    await harness.pos.add_waiter_lines("T1", [{"productId": "ceviche", "quantity": 1}])
    await harness.pos.set_faults(latency_ms=500)

    reading = harness.transport.next_request()
    sync = asyncio.create_task(harness.watcher.sync_table("T1"))
    await reading  # the watcher's read is under way
    _, asked = await harness.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"})
    await sync

    # One slow read (0.5 s) fits the deadline: it would not after waiting for the
    # watcher's read under the lock.
    assert harness.result_for(asked)["outcome"] == "RESOLVED"
    assert [c["changeType"] for c in harness.changes()] == ["ORDER_OPENED", "POS_LINE_ADDED"]


async def test_the_watcher_reads_under_a_deadline_of_its_own(make_harness: MakeHarness) -> None:
    harness: Harness = await make_harness(pos_deadline=0.2)
    await harness.send(SNAPSHOT, {"posTableId": "T1", "tableSessionId": "s-1"})
    await harness.pos.set_faults(latency_ms=5000)

    with pytest.raises(PosUnavailable, match="deadline"):
        await asyncio.wait_for(harness.watcher.sync_table("T1"), 3)
