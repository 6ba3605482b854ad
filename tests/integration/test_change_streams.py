"""TableOrderSnapshotChanged from the first snapshot to ORDER_CLOSED (contract §4.5),
through RabbitMQ and the mock POS, on the push, poll and per-table poll paths."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adapter.testing import OpenAppClient, Received
from handlers.watcher import ChangeMode
from pos_drivers.mock import MockPosControl, MockPosServer
from pos_drivers.mock._server import mock_pos_of
from tests.integration.conftest import StartAdapter, eventually

pytestmark = pytest.mark.rabbitmq

SNAPSHOT = "TableOrderSnapshotRequested"
MODES = [ChangeMode.PUSH, ChangeMode.POLL, ChangeMode.TABLE_POLL]


async def open_stream(openapp: OpenAppClient, table: str, session: str = "s-1") -> Received:
    message_id = await openapp.send(
        SNAPSHOT, {"posTableId": table, "tableSessionId": session, "reason": "SESSION_START"}
    )
    result = await openapp.result_for(message_id)
    assert result.payload["outcome"] == "RESOLVED", result.payload
    return result


def assert_well_formed(changes: list[Received], opened: Received) -> None:
    """Sequence from 1 by exactly 1, version = sequence, correlated to the opening request."""
    stream_id = opened.payload["streamId"]
    assert [c.payload["sequence"] for c in changes] == list(range(1, len(changes) + 1))
    for change in changes:
        assert change.payload["streamId"] == stream_id
        assert change.payload["snapshot"]["version"] == change.payload["sequence"]
        assert change.body["correlationId"] == opened.body["correlationId"]
        assert change.payload["tableSessionId"] == opened.payload["tableSessionId"]
        assert change.properties["type"] == "TableOrderSnapshotChanged"


@pytest.mark.parametrize("mode", MODES)
async def test_every_change_type_in_sequence(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, mode: ChangeMode
) -> None:
    order = await pos.add_waiter_lines("T7", [{"productId": "lomo-saltado", "quantity": 1}])
    line = order["lines"][0]["lineId"]
    async with start_adapter(change_mode=mode):
        opened = await open_stream(openapp, "T7")
        stream_id = opened.payload["streamId"]
        expected: list[str] = []

        async def step(change_type: str, action: Any) -> Received:
            await action
            expected.append(change_type)
            changes = await openapp.wait_changes(stream_id, len(expected))
            assert changes[-1].payload["changeType"] == change_type
            return changes[-1]

        added = await step("POS_LINE_ADDED", pos.add_waiter_lines(
            "T7", [{"productId": "chicha", "quantity": 2}]))
        assert [(x["productId"], x["origin"]) for x in added.payload["lines"]] == [
            ("chicha", "POS")]
        chicha = added.payload["lines"][0]["posLineId"]
        changed = await step("LINE_QUANTITY_CHANGED", pos.patch_line(line, quantity=3))
        assert changed.payload["lines"][0]["quantity"] == 3
        updated = await step("LINE_UPDATED", pos.patch_line(line, notes="sin picante"))
        assert updated.payload["lines"][0]["notes"] == "sin picante"
        await step("LINE_STATUS_CHANGED", pos.patch_line(line, status="PREPARING"))
        await step("LINE_DELIVERED", pos.patch_line(line, status="DELIVERED"))
        cancelled = await step("LINE_CANCELLED", pos.patch_line(chicha, status="CANCELLED"))
        assert cancelled.payload["snapshot"]["totals"]["subtotal"] == 3 * 4200
        removed = await step("LINE_REMOVED", pos.delete_line(chicha))
        assert removed.payload["lines"][0]["posLineId"] == chicha
        applied = await step("DISCOUNT_APPLIED", pos.add_discount("T7", "cortesía", 500))
        discount = applied.payload["discounts"][0]
        assert discount["amount"] == 500
        assert applied.payload["snapshot"]["totals"]["total"] == 3 * 4200 - 500
        await step("DISCOUNT_REMOVED", pos.delete_discount(discount["posDiscountId"]))
        closed = await step("ORDER_CLOSED", pos.close_table("T7"))

        assert closed.payload["lines"] == []
        assert closed.payload["snapshot"]["orderStatus"] == "CLOSED"
        assert closed.payload["snapshot"]["posOrderId"] == order["orderId"]
        assert_well_formed(openapp.changes(stream_id), opened)


@pytest.mark.parametrize("mode", [ChangeMode.PUSH, ChangeMode.POLL])
async def test_a_check_opened_on_a_watched_empty_table(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, mode: ChangeMode
) -> None:
    async with start_adapter(change_mode=mode):
        opened = await open_stream(openapp, "T8")
        assert opened.payload["snapshot"]["orderStatus"] == "NONE"

        await pos.add_waiter_lines("T8", [{"productId": "causa", "quantity": 1},
                                          {"productId": "inca-kola", "quantity": 2}])
        changes = await openapp.wait_changes(opened.payload["streamId"], 2)

        assert [c.payload["changeType"] for c in changes] == ["ORDER_OPENED", "POS_LINE_ADDED"]
        assert changes[0].payload["snapshot"]["orderStatus"] == "OPEN"
        assert len(changes[1].payload["lines"]) == 2
        assert_well_formed(changes, opened)


async def test_order_closed_ends_the_stream_and_a_new_request_opens_a_new_one(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    await pos.add_waiter_lines("T10", [{"productId": "ceviche", "quantity": 1}])
    async with start_adapter(change_mode=ChangeMode.PUSH) as worker:
        first = await open_stream(openapp, "T10")
        await pos.close_table("T10")
        [closed] = await openapp.wait_changes(first.payload["streamId"], 1)
        assert closed.payload["changeType"] == "ORDER_CLOSED"
        await eventually(lambda: _async(worker.watcher is not None
                                        and "T10" not in worker.watcher.watched))

        # The table's next check is none of the ended stream's business...
        await pos.add_waiter_lines("T10", [{"productId": "picarones", "quantity": 1}])
        # ...until a new request opens a new stream, which starts from the current check.
        second = await open_stream(openapp, "T10", session="s-2")

        assert second.payload["streamId"] != first.payload["streamId"]
        assert second.payload["snapshot"]["version"] == 0
        assert [x["productId"] for x in second.payload["snapshot"]["lines"]] == ["picarones"]
        assert len(openapp.changes(first.payload["streamId"])) == 1


async def test_a_snapshot_request_pushes_unseen_changes_first(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    # A watcher that looks only once a minute: the request is first to see the change.
    await pos.add_waiter_lines("T11", [{"productId": "causa", "quantity": 1}])
    async with start_adapter(change_mode=ChangeMode.TABLE_POLL, poll_interval=60):
        opened = await open_stream(openapp, "T11")
        await pos.add_waiter_lines("T11", [{"productId": "suspiro", "quantity": 1}])

        refreshed = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "T11", "tableSessionId": "s-1", "reason": "PRE_PAYMENT"}))
        [change] = await openapp.wait_changes(opened.payload["streamId"], 1)

        assert change.payload["changeType"] == "POS_LINE_ADDED"
        assert change.payload["sequence"] == 1
        assert refreshed.payload["streamId"] == opened.payload["streamId"]
        assert refreshed.payload["snapshot"]["version"] == 1
        # The changes went out before the result that reports their version.
        assert openapp.received.index(change) < openapp.received.index(refreshed)


async def test_changes_made_while_the_adapter_was_down_are_pushed_after_restart(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    await pos.add_waiter_lines("T12", [{"productId": "anticuchos", "quantity": 2}])
    async with start_adapter(change_mode=ChangeMode.POLL):
        opened = await open_stream(openapp, "T12")
        await pos.add_waiter_lines("T12", [{"productId": "chicha", "quantity": 1}])
        await openapp.wait_changes(opened.payload["streamId"], 1)

    await pos.add_waiter_lines("T12", [{"productId": "pisco-sour", "quantity": 2}])

    async with start_adapter(change_mode=ChangeMode.POLL):
        changes = await openapp.wait_changes(opened.payload["streamId"], 2)

    assert changes[1].payload["changeType"] == "POS_LINE_ADDED"
    assert [x["productId"] for x in changes[1].payload["lines"]] == ["pisco-sour"]
    assert_well_formed(changes, opened)


@pytest.mark.parametrize("mode", [ChangeMode.PUSH, ChangeMode.POLL])
async def test_a_pos_outage_keeps_the_stream_and_invents_nothing(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, mode: ChangeMode,
    mock_pos: MockPosServer,
) -> None:
    await pos.add_waiter_lines("T14", [{"productId": "causa", "quantity": 1}])
    async with start_adapter(change_mode=mode) as worker:
        opened = await open_stream(openapp, "T14")
        stream_id = opened.payload["streamId"]
        watcher = worker.watcher
        assert watcher is not None
        failures_before = watcher.pos_failures

        await pos.set_faults(down=True)
        await pos.add_waiter_lines("T14", [{"productId": "chicha", "quantity": 1}])
        if mode is ChangeMode.PUSH:  # the push channel is cut and cannot connect again
            hub = mock_pos_of(mock_pos.app).hub
            await eventually(lambda: _async(hub.connected == 0), timeout=15)
        else:
            await eventually(lambda: _async(watcher.pos_failures > failures_before), timeout=15)
        assert openapp.changes(stream_id) == []
        assert "T14" in watcher.watched

        await pos.set_faults(down=False)
        [change] = await openapp.wait_changes(stream_id, 1, timeout=15)

    assert change.payload["changeType"] == "POS_LINE_ADDED"
    assert change.payload["sequence"] == 1
    assert [c.payload["changeType"] for c in openapp.changes(stream_id)] == ["POS_LINE_ADDED"]


async def test_an_old_stream_expires_and_the_next_request_opens_a_new_one(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    async with start_adapter(stream_max_age=0.3) as worker:
        first = await open_stream(openapp, "T15")
        watcher = worker.watcher
        assert watcher is not None
        await eventually(lambda: _async("T15" not in watcher.watched))

        second = await open_stream(openapp, "T15", session=str(uuid.uuid4()))

    assert second.payload["streamId"] != first.payload["streamId"]
    assert openapp.changes(first.payload["streamId"]) == []


async def _async(value: bool) -> bool:
    return value


async def test_a_check_grown_by_submissions_is_kept_whole_across_a_restart(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    """Submissions' catch-ups and a waiter's line each read a check that only grew (the
    baseline's lines taken as they are, the stream's row from the last one's JSON): the
    stored baseline still holds every line, so after a restart a status change of the
    first submitted line is that change alone, and no line is taken for new."""
    await pos.add_waiter_lines("T16", [{"productId": "anticuchos", "quantity": 1}])
    async with start_adapter(change_mode=ChangeMode.POLL):
        opened = await open_stream(openapp, "T16")
        stream_id = opened.payload["streamId"]
        first = None
        for n in range(3):
            payload = {
                "submissionId": f"sub-{uuid.uuid4().hex[:10]}",
                "orderContext": {"type": "TABLE", "posTableId": "T16", "tableSessionId": "s-1"},
                "items": [{"lineId": f"l{n}", "productId": "chicha", "quantity": 1,
                           "unitPrice": 900, "notes": None, "modifiers": []}],
                "payment": None,
            }
            result = await openapp.result_for(
                await openapp.send("OrderSubmissionRequested", payload), timeout=15)
            assert result.payload["outcome"] == "ACCEPTED", result.payload
            first = first or result.payload["acceptedItems"][0]["posLineId"]
        await pos.add_waiter_lines("T16", [{"productId": "causa", "quantity": 1}])
        [added] = await openapp.wait_changes(stream_id, 1)
    assert first is not None
    await pos.patch_line(first, status="PREPARING")

    async with start_adapter(change_mode=ChangeMode.POLL):
        changes = await openapp.wait_changes(stream_id, 2)

    assert added.payload["changeType"] == "POS_LINE_ADDED"
    assert [x["productId"] for x in added.payload["lines"]] == ["causa"]
    for change in (added, changes[1]):  # the first read from its baseline's subtotal
        snapshot = change.payload["snapshot"]
        assert snapshot["totals"]["subtotal"] == sum(x["totalPrice"] for x in snapshot["lines"])
    status = changes[1]
    assert status.payload["changeType"] == "LINE_STATUS_CHANGED"
    assert [(x["posLineId"], x["status"]) for x in status.payload["lines"]] == [
        (first, "PREPARING")]
    snapshot = status.payload["snapshot"]
    assert len(snapshot["lines"]) == 5
    assert sum(x["origin"] == "OPENAPP" for x in snapshot["lines"]) == 3
    assert [c.payload["changeType"] for c in openapp.changes(stream_id)] == [
        "POS_LINE_ADDED", "LINE_STATUS_CHANGED"]
    assert_well_formed(changes, opened)
