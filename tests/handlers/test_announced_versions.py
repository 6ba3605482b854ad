"""A POS announcement of a version the stream already reflects costs no read: the
submission brings its stream up to the check the POS answered the add with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from handlers import WriteSet
from pos_drivers import AddedLines, NewLine
from pos_drivers.mock import MockDriver, MockPosControl
from tests.handlers.conftest import POS_URL, Harness, MakeHarness, item, submission

SUBMISSION = "OrderSubmissionRequested"
SNAPSHOT = "TableOrderSnapshotRequested"


async def version_of(harness: Harness, table: str) -> str:
    check = (await harness.pos.table(table))["open"]
    version: str = check["updatedAt"]
    return version


async def submitted(harness: Harness, table: str, line_id: str = "l1") -> str:
    """Open a stream on ``table``, submit one item; the POS's version after it."""
    await harness.send(SNAPSHOT, {"posTableId": table, "tableSessionId": "s-1"})
    _, message_id = await harness.send(SUBMISSION, submission(table, [item(line_id)]))
    assert harness.result_for(message_id)["outcome"] == "ACCEPTED"
    return await version_of(harness, table)


async def test_the_announcement_of_our_own_lines_is_not_read(harness: Harness) -> None:
    version = await submitted(harness, "T1")
    before = harness.pos_api_requests()

    assert await harness.watcher.sync_table("T1", announced=version) == 0
    assert harness.pos_api_requests() == before
    assert harness.changes() == []


async def test_a_later_version_is_read(harness: Harness) -> None:
    await submitted(harness, "T1")
    await harness.pos.add_waiter_lines("T1", [{"productId": "ceviche", "quantity": 1}])
    before = len(harness.pos_api_requests())

    pushed = await harness.watcher.sync_table("T1", announced=await version_of(harness, "T1"))

    assert pushed == 1
    assert len(harness.pos_api_requests()) > before
    [change] = harness.changes()
    assert change["changeType"] == "POS_LINE_ADDED"


async def test_a_stream_written_since_is_read(harness: Harness) -> None:
    version = await submitted(harness, "T1")
    stream = await harness.store.active_stream("here", "T1")
    assert stream is not None
    moved = replace(stream, table_session_id="s-2", session_ids=(*stream.session_ids, "s-2"))
    await harness.store.commit(WriteSet(streams=[moved]))
    before = len(harness.pos_api_requests())

    await harness.watcher.sync_table("T1", announced=version)

    assert len(harness.pos_api_requests()) > before


class WaiterSneaksIn(MockDriver):
    """A waiter adds a line between the submission's read and its add."""

    async def add_lines(
        self, table_id: str, expected_order_id: str | None, lines: Sequence[NewLine]
    ) -> AddedLines:
        async with MockPosControl(POS_URL, transport=self._transport) as control:
            await control.add_waiter_lines(table_id, [{"productId": "pisco-sour", "quantity": 2}])
        return await super().add_lines(table_id, expected_order_id, lines)


async def test_a_waiter_line_added_during_the_submission_goes_out_with_it(
    make_harness: MakeHarness,
) -> None:
    harness: Harness = await make_harness(driver_class=WaiterSneaksIn)
    version = await submitted(harness, "T1")

    [change] = harness.changes()
    assert change["changeType"] == "POS_LINE_ADDED"
    assert [line["productId"] for line in change["snapshot"]["lines"]
            if line["origin"] == "POS"] == ["pisco-sour"]
    before = harness.pos_api_requests()
    assert await harness.watcher.sync_table("T1", announced=version) == 0
    assert harness.pos_api_requests() == before
