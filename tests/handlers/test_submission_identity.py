"""A submissionId is one submission whatever carries it (contract §4.3), and a driver is
asked what it can do before anything is done."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pos_drivers import Capability
from pos_drivers.mock import MockDriver
from tests.handlers.conftest import Harness, MakeHarness, item, submission

SUBMISSION = "OrderSubmissionRequested"
SNAPSHOT = "TableOrderSnapshotRequested"


async def test_one_submission_id_on_two_tables_at_once_is_applied_once(
    harness: Harness,
) -> None:
    for table in ("T1", "T2"):
        await harness.send(SNAPSHOT, {"posTableId": table, "tableSessionId": "s-1"})
    on_t1 = submission("T1", [item("l1")], submission_id="sub-shared")
    on_t2 = submission("T2", [item("l1")], submission_id="sub-shared")

    (_, first), (_, second) = await asyncio.gather(
        harness.send(SUBMISSION, on_t1), harness.send(SUBMISSION, on_t2))
    for table in ("T1", "T2"):
        await harness.watcher.sync_table(table)

    results = [harness.result_for(first), harness.result_for(second)]
    accepted = [r for r in results if r["outcome"] == "ACCEPTED"]
    refused = [r for r in results if r["outcome"] == "REJECTED"]
    assert len(accepted) == len(refused) == 1
    assert refused[0]["rejection"]["reason"] == "INVALID_REQUEST"
    assert "sub-shared" in refused[0]["rejection"]["message"]
    winner = accepted[0]["orderContext"]["posTableId"]
    loser = refused[0]["orderContext"]["posTableId"]
    assert (await harness.pos.table(winner))["open"]["lines"][0]["externalRef"] == "sub-shared:l1"
    assert (await harness.pos.table(loser))["open"] is None
    record = await harness.store.submission("here", "sub-shared")
    assert record is not None
    assert record.pos_table_id == winner
    assert record.pos_order_id == accepted[0]["posOrderId"]
    assert harness.changes() == []  # no phantom LINE_REMOVED, no echo of our own line


async def test_a_reused_submission_id_with_other_items_leaves_the_first_outcome(
    harness: Harness,
) -> None:
    request = submission("T1", [item("l1")], submission_id="sub-1")
    other_items = submission("T1", [item("l1", quantity=3)], submission_id="sub-1")

    _, first = await harness.send(SUBMISSION, request)
    _, reused = await harness.send(SUBMISSION, other_items)
    _, repeated = await harness.send(SUBMISSION, request)

    assert harness.result_for(first)["outcome"] == "ACCEPTED"
    assert harness.result_for(reused)["rejection"]["reason"] == "INVALID_REQUEST"
    assert harness.result_for(repeated) == harness.result_for(first)
    check = (await harness.pos.table("T1"))["open"]
    assert [line["quantity"] for line in check["lines"]] == [1]


class _ReadOnlyMock(MockDriver):
    capabilities: ClassVar[frozenset[Capability]] = MockDriver.capabilities - {
        Capability.ADD_LINES
    }


class _NoReferencesMock(MockDriver):
    capabilities: ClassVar[frozenset[Capability]] = MockDriver.capabilities - {
        Capability.EXTERNAL_REFS
    }


async def test_a_driver_that_cannot_add_lines_is_answered_not_supported_without_a_pos_call(
    make_harness: MakeHarness,
) -> None:
    harness: Harness = await make_harness(driver_class=_ReadOnlyMock)

    _, message_id = await harness.send(SUBMISSION, submission("T1", [item("l1")]))

    result = harness.result_for(message_id)
    assert result["outcome"] == "REJECTED"
    assert result["rejection"]["reason"] == "NOT_SUPPORTED"
    assert result["rejection"]["retryable"] is False
    assert "add items" in result["rejection"]["message"]
    assert harness.pos_api_requests() == []


async def test_an_interrupted_attempt_is_not_sent_again_without_lookups_by_reference(
    make_harness: MakeHarness,
) -> None:
    harness: Harness = await make_harness(driver_class=_NoReferencesMock, pos_deadline=0.5)
    assert await harness.ctx.driver.ping()  # the table names are known: one call per read
    await harness.pos.set_faults(latency_ms=200)  # the deadline passes during add_lines
    request = submission("T1", [item("l1")])

    _, first = await harness.send(SUBMISSION, request)
    assert harness.result_for(first)["rejection"]["reason"] == "POS_UNAVAILABLE"
    assert len((await harness.pos.table("T1"))["open"]["lines"]) == 1
    await harness.pos.set_faults(latency_ms=0)
    calls_before = len(harness.pos_api_requests())
    _, again = await harness.send(SUBMISSION, request)

    result = harness.result_for(again)
    assert result["rejection"]["reason"] == "NOT_SUPPORTED"
    assert "not sent again" in result["rejection"]["message"]
    assert not any("POST" in r for r in harness.pos_api_requests()[calls_before:])
    assert len((await harness.pos.table("T1"))["open"]["lines"]) == 1
