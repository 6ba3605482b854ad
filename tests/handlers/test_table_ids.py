"""Table ids that cannot be tables are TABLE_NOT_FOUND (final), never POS_UNAVAILABLE
(which OpenApp would retry for ever), and never reach another POS endpoint."""

from __future__ import annotations

import pytest

from tests.handlers.conftest import Harness, item, submission

HOSTILE_IDS = ["../_control/reset", "..", ".", "T1/../T2", "%2F", "T1?x=1", "#", "T1 ", "ü"]


@pytest.mark.parametrize("table", HOSTILE_IDS)
async def test_a_snapshot_of_an_id_that_is_no_table_is_table_not_found(
    harness: Harness, table: str
) -> None:
    await harness.pos.add_waiter_lines("T1", [{"productId": "ceviche", "quantity": 1}])

    _, message_id = await harness.send(
        "TableOrderSnapshotRequested", {"posTableId": table, "tableSessionId": "s-1"})

    rejection = harness.result_for(message_id)["rejection"]
    assert rejection["reason"] == "TABLE_NOT_FOUND"
    assert rejection["retryable"] is False
    assert (await harness.pos.table("T1"))["open"] is not None  # nothing was reset


@pytest.mark.parametrize("table", ["../_control/reset", ".."])
async def test_a_submission_to_an_id_that_is_no_table_is_table_not_found(
    harness: Harness, table: str
) -> None:
    _, message_id = await harness.send("OrderSubmissionRequested",
                                       submission(table, [item("l1")]))

    assert harness.result_for(message_id)["rejection"]["reason"] == "TABLE_NOT_FOUND"
