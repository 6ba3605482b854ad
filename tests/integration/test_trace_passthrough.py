"""With tracing off (no extra, or not configured) the context a command carries goes out
on its result and the changes it caused as it came; nothing is added to the others."""

from __future__ import annotations

import secrets

import pytest

from adapter import tracing
from adapter.testing import OpenAppClient
from handlers.watcher import ChangeMode
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter
from tests.integration.test_submissions import SNAPSHOT

pytestmark = pytest.mark.rabbitmq

QUIET = {"change_mode": ChangeMode.TABLE_POLL, "poll_interval": 3600.0,
         "health_interval": 3600.0, "metrics_port": 0}
"""The watcher never reads the table during the test: the changes come from commands."""
OPENED = ["ORDER_OPENED", "POS_LINE_ADDED"]
"""The changes a waiter's first line on an empty table makes."""


def openapp_context() -> tuple[str, str, str]:
    """A context as OpenApp's publish would send it: trace id, span id, traceparent."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


async def test_without_tracing_the_received_context_goes_out_as_it_came(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    assert not tracing.enabled()
    _, _, parent = openapp_context()
    request = {"posTableId": "T5", "tableSessionId": "s-1", "reason": "SESSION_START"}
    async with start_adapter(**QUIET):
        plain = await openapp.result_for(await openapp.send(SNAPSHOT, request))
        # A waiter's line the watcher does not see: the traced command's read reveals it.
        await pos.add_waiter_lines("T5", [{"productId": "chicha", "quantity": 1}])
        traced = await openapp.result_for(await openapp.send(
            SNAPSHOT, request, headers={"traceparent": parent, "tracestate": "openapp=t61"}
        ))
        changes = await openapp.wait_changes(plain.payload["streamId"], 2)

    assert plain.properties["headers"] == {"schemaVersion": 1}
    assert [c.payload["changeType"] for c in changes] == OPENED
    for message in (traced, *changes):
        assert message.properties["headers"] == {
            "schemaVersion": 1, "traceparent": parent, "tracestate": "openapp=t61",
        }
