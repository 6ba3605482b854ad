"""A first submission on a table whose stream knows its open check adds to that check
without reading the table first; the POS refusing that check sends it back to the read."""

from __future__ import annotations

from tests.handlers.conftest import Harness, item, submission

SUBMISSION = "OrderSubmissionRequested"
SNAPSHOT = "TableOrderSnapshotRequested"


async def stream_on_open_check(harness: Harness, table: str) -> None:
    """A waiter's check on ``table`` and a stream opened on it."""
    await harness.pos.add_waiter_lines(table, [{"productId": "ceviche", "quantity": 1}])
    await harness.send(SNAPSHOT, {"posTableId": table, "tableSessionId": "s-1"})
    stream = await harness.store.active_stream("here", table)
    assert stream is not None
    assert stream.baseline.pos_order_id is not None


async def test_the_add_is_the_only_pos_call(harness: Harness) -> None:
    await stream_on_open_check(harness, "T1")
    before = len(harness.pos_api_requests())

    _, message_id = await harness.send(SUBMISSION, submission("T1", [item("l1")]))

    assert harness.result_for(message_id)["outcome"] == "ACCEPTED"
    calls = harness.pos_api_requests()[before:]
    assert [c for c in calls if not c.startswith("GET /products")] == [
        "POST /tables/T1/order/lines"]
    lines = (await harness.pos.table("T1"))["open"]["lines"]
    assert sorted(line["productId"] for line in lines) == ["ceviche", "ceviche"]


async def test_a_waiter_line_not_yet_pushed_goes_out_with_the_result(harness: Harness) -> None:
    await stream_on_open_check(harness, "T1")
    await harness.pos.add_waiter_lines("T1", [{"productId": "pisco-sour", "quantity": 2}])

    _, message_id = await harness.send(SUBMISSION, submission("T1", [item("l1")]))

    assert harness.result_for(message_id)["outcome"] == "ACCEPTED"
    [change] = harness.changes()
    assert change["changeType"] == "POS_LINE_ADDED"
    assert [line["productId"] for line in change["lines"]] == ["pisco-sour"]


async def test_a_check_closed_since_is_read_and_answered_order_closed(harness: Harness) -> None:
    await stream_on_open_check(harness, "T1")
    await harness.pos.close_table("T1")
    await harness.pos.add_waiter_lines("T1", [{"productId": "pisco-sour", "quantity": 1}])
    before = len(harness.pos_api_requests())

    _, message_id = await harness.send(SUBMISSION, submission("T1", [item("l1")]))

    result = harness.result_for(message_id)
    assert result["outcome"] == "REJECTED"
    assert result["rejection"]["reason"] == "ORDER_CLOSED"
    calls = harness.pos_api_requests()[before:]
    assert "POST /tables/T1/order/lines" in calls
    assert "GET /tables/T1/order" in calls
    assert [c["changeType"] for c in harness.changes()] == ["ORDER_CLOSED"]
    assert await harness.store.active_stream("here", "T1") is None
    lines = (await harness.pos.table("T1"))["open"]["lines"]
    assert [line["productId"] for line in lines] == ["pisco-sour"]


async def test_a_table_without_a_check_is_read_first(harness: Harness) -> None:
    await harness.send(SNAPSHOT, {"posTableId": "T2", "tableSessionId": "s-1"})
    before = len(harness.pos_api_requests())

    _, message_id = await harness.send(SUBMISSION, submission("T2", [item("l1")]))

    assert harness.result_for(message_id)["outcome"] == "ACCEPTED"
    assert "GET /tables/T2/order" in harness.pos_api_requests()[before:]
