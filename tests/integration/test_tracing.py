"""One trace from OpenApp's publish of a command to its result and the changes it caused,
through RabbitMQ, the mock POS and the store, with the SDK's in-memory exporter (the
context passed through with tracing off: ``test_trace_passthrough``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from adapter import tracing
from adapter.testing import OpenAppClient, Received
from handlers.watcher import ChangeMode
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter
from tests.integration.test_submissions import SNAPSHOT, SUBMIT, item, submission
from tests.integration.test_trace_passthrough import OPENED, QUIET, openapp_context

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for the worker the test starts."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.disable()
        provider.shutdown()


def traceparent(message: Received) -> list[str]:
    """The fields of the message's ``traceparent``: version, trace id, parent id, flags."""
    return str(message.properties["headers"]["traceparent"]).split("-")


def hex_id(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def of_trace(spans: Sequence[ReadableSpan], trace_id: str) -> list[ReadableSpan]:
    return [s for s in spans if hex_id(s.context.trace_id, 32) == trace_id]


def is_test_control(span: ReadableSpan) -> bool:
    """The test's own call of the mock POS's control API (httpx is instrumented)."""
    attributes = span.attributes or {}
    url = attributes.get("url.full") or attributes.get("http.url") or ""
    return "/_control/" in str(url)


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None
            and s.parent.span_id == parent.context.span_id]


async def test_a_submission_is_one_trace_from_openapp_to_its_result_and_changes(
    exported: InMemorySpanExporter, start_adapter: StartAdapter, openapp: OpenAppClient,
    pos: MockPosControl,
) -> None:
    opening_trace, _, opening = openapp_context()
    trace_id, openapp_span, parent = openapp_context()
    async with start_adapter(**QUIET) as worker:
        opened = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "T4", "tableSessionId": "s-1", "reason": "SESSION_START"},
            headers={"traceparent": opening},
        ))
        stream_id = opened.payload["streamId"]
        # A waiter's line the watcher does not see: the submission's read reveals it.
        await pos.add_waiter_lines("T4", [{"productId": "chicha", "quantity": 1}])
        message_id = await openapp.send(
            SUBMIT, submission("T4", [item("a", "ceviche", 1, 3500)]),
            headers={"traceparent": parent, "tracestate": "openapp=t61"},
        )
        result = await openapp.result_for(message_id, timeout=15)
        changes = await openapp.wait_changes(stream_id, 2)
        assert worker.relay is not None
        assert await worker.relay.flush(5)
        queue = worker.settings.command_queue
    # The worker has stopped: every command's span has ended.

    assert result.payload["outcome"] == "ACCEPTED"
    assert [c.payload["changeType"] for c in changes] == OPENED
    for message in (result, *changes):
        assert traceparent(message)[1] == trace_id
        assert message.properties["headers"]["tracestate"] == "openapp=t61"
    assert traceparent(opened)[1] == opening_trace

    spans = [s for s in exported.get_finished_spans() if not is_test_control(s)]
    assert {hex_id(s.context.trace_id, 32) for s in spans} == {trace_id, opening_trace}, (
        "background work (watcher, health reports, driver start) makes no trace"
    )
    trace = of_trace(spans, trace_id)
    [command] = [s for s in trace if s.kind is SpanKind.CONSUMER]
    assert command.name == SUBMIT
    assert command.parent is not None
    assert command.parent.is_remote
    assert hex_id(command.parent.span_id, 16) == openapp_span
    assert command.attributes is not None
    assert dict(command.attributes) == {
        "messaging.system": "rabbitmq", "messaging.operation.type": "process",
        "messaging.destination.name": queue,
        "messaging.rabbitmq.destination.routing_key": f"{openapp.location_id}.{SUBMIT}",
        "messaging.message.id": message_id, "locationId": openapp.location_id,
        "posTableId": "T4", "outcome": "ACCEPTED",
    }

    below = children(trace, command)
    pos_calls = {s.name: s for s in below if s.name.startswith("pos ")}
    assert {"pos read_check", "pos add_lines"} <= set(pos_calls)
    for call in pos_calls.values():
        http = [s for s in children(trace, call) if s.kind is SpanKind.CLIENT]
        assert http, f"{call.name} has no HTTP span below it"
    commits = [dict(s.attributes or {}) for s in below if s.name == "store commit"]
    assert commits
    assert {c["db.system.name"] for c in commits} == {"sqlite"}

    publishes = {str((s.attributes or {})["messaging.message.id"]): s
                 for s in below if s.kind is SpanKind.PRODUCER}
    assert len(publishes) == 3
    for message in (result, *changes):
        span = publishes[message.body["messageId"]]
        assert span.name == f"publish {message.message_type}"
        assert traceparent(message)[2] == hex_id(span.context.span_id, 16)


async def test_changes_the_pos_side_made_carry_no_context_and_make_no_trace(
    exported: InMemorySpanExporter, start_adapter: StartAdapter, openapp: OpenAppClient,
    pos: MockPosControl,
) -> None:
    opening_trace, _, opening = openapp_context()
    request = {"posTableId": "T6", "tableSessionId": "s-1", "reason": "SESSION_START"}
    async with start_adapter(change_mode=ChangeMode.PUSH, metrics_port=0):
        opened = await openapp.result_for(
            await openapp.send(SNAPSHOT, request, headers={"traceparent": opening})
        )
        await pos.add_waiter_lines("T6", [{"productId": "chicha", "quantity": 1}])
        changes = await openapp.wait_changes(opened.payload["streamId"], 2)

    assert [c.payload["changeType"] for c in changes] == OPENED
    for change in changes:
        assert change.properties["headers"] == {"schemaVersion": 1}
    spans = [s for s in exported.get_finished_spans() if not is_test_control(s)]
    assert {hex_id(s.context.trace_id, 32) for s in spans} == {opening_trace}
