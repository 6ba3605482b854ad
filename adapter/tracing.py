"""Tracing with OpenTelemetry: optional (``pip install 'pos-adapter[otel]'``), off unless
configured.

Everything OpenTelemetry is imported here, and only once tracing starts: without the
extra or without configuration, :func:`enabled` is False, the hooks below cost a
function call, and no span is made nor exported.

**When tracing is on.** :func:`setup_from_environment` (at worker start) sets the SDK
up when the extra is installed, ``OTEL_SDK_DISABLED`` is not ``true``, and
``OTEL_TRACES_EXPORTER`` (other than ``none``) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set: an installed extra alone never sends
spans to a default endpoint nobody listens on. Tests call :func:`enable` with their own
provider.

**How the W3C trace context flows.**

- In: the command's ``traceparent`` / ``tracestate`` AMQP headers. With tracing on, the
  command's span is their child; off, they are kept as received (a pass-through that
  costs one dictionary lookup when they are absent).
- Kept: :data:`current` holds the context of the command being handled (its span's,
  or the one received); every outbox row committed from the command's task stores it:
  its result, the changes its read of the POS revealed, a stored result published
  again for a duplicate.
- Out: the relay writes the row's context as the published message's headers: the
  publish span's (a child of the row's context) with tracing on, the stored one as it
  is with tracing off. A result published after a restart still joins its trace.

The watcher's changes (what happened on the POS side) carry no context and start no
trace: a waiter caused them, not the command that opened the stream hours before. The
adapter's background work is not traced either: a POS call outside a command makes no
span, and the HTTP instrumentation is suppressed in the location's loops.

**Spans.** ``<messageType>`` (consumer) per command, a child of the received context;
below it ``pos <operation>`` per driver call, with the HTTP client's spans below those,
and ``store commit`` per write set (its wait for the group commit and the transaction);
``publish <messageType>`` (producer) in the relay, a child of the outbox row's context.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = structlog.get_logger("pos_adapter.tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
MAX_TRACESTATE = 512
"""Longest ``tracestate`` kept (what W3C asks every vendor to propagate at least)."""
DEFAULT_SERVICE_NAME = "pos-adapter"

_TRACEPARENT = re.compile(
    r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
)
_TRACESTATE = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A W3C trace context, as the ``traceparent`` and ``tracestate`` headers carry it."""

    traceparent: str
    tracestate: str | None = None

    @property
    def trace_id(self) -> str:
        return self.traceparent[3:35]

    def headers(self) -> dict[str, str]:
        if self.tracestate:
            return {TRACEPARENT: self.traceparent, TRACESTATE: self.tracestate}
        return {TRACEPARENT: self.traceparent}


current: ContextVar[TraceContext | None] = ContextVar("pos_adapter_trace", default=None)
"""The trace context of the command this task handles: its outbox rows carry it."""


def received(headers: Mapping[str, Any] | None) -> TraceContext | None:
    """The trace context of a delivery's headers; None when absent or malformed (version
    00's format only). A malformed ``tracestate`` alone is dropped, as W3C says."""
    if not headers or (value := headers.get(TRACEPARENT)) is None:
        return None
    traceparent = _text(value)
    if traceparent is None or not _TRACEPARENT.fullmatch(traceparent):
        return None
    tracestate = _text(headers.get(TRACESTATE))
    if tracestate is not None and (
        len(tracestate) > MAX_TRACESTATE or not _TRACESTATE.fullmatch(tracestate)
    ):
        tracestate = None
    return TraceContext(traceparent, tracestate or None)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    return None


# -- on and off --------------------------------------------------------------------------


@dataclass(slots=True)
class _On:
    tracer: Tracer
    propagator: TraceContextTextMapPropagator
    undo: list[Callable[[], None]] = field(default_factory=list)


_on: _On | None = None


def enabled() -> bool:
    return _on is not None


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for tracing (the rule in the module's docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def setup_from_environment() -> bool:
    """Start tracing when the environment asks for it and the extra is installed: the
    SDK's provider becomes the global one. Whether tracing is on; a second call changes
    nothing (spans are exported in batches, flushed at exit)."""
    if _on is not None:
        return True
    if not wanted(os.environ):
        return False
    try:
        provider = build_provider()
    except ImportError:
        log.warning("OTEL_* variables ask for tracing, but pos-adapter[otel] is not "
                    "installed: tracing stays off")
        return False
    from opentelemetry import trace

    trace.set_tracer_provider(provider)
    enable(provider)
    log.info("tracing on", service=provider.resource.attributes.get("service.name"))
    return True


def build_provider() -> SdkTracerProvider:
    """The SDK's provider as the ``OTEL_*`` variables say (resource, sampler, batch
    processor, OTLP over HTTP); ``service.name`` defaults to ``pos-adapter``."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: DEFAULT_SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(","):
        name = name.strip()
        exporter: SpanExporter
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        elif name == "console":
            exporter = ConsoleSpanExporter()
        else:
            if name not in ("", "none"):
                log.warning("unknown OTEL_TRACES_EXPORTER ignored", exporter=name)
            continue
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def enable(provider: TracerProvider) -> None:
    """Trace with ``provider`` from now on: the spans above, and the HTTP clients
    instrumented (those on httpx's own transport globally; the drivers' POS clients as
    they are built, which while hooked are httpx clients over aiohttp). Drivers metered
    before keep no spans, their clients being aiohttp's alone."""
    global _on
    disable()
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from pos_drivers import on_http_client

    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)

    def instrument(client: httpx.AsyncClient) -> None:
        # httpx's own transport is instrumented already, by class.
        if not isinstance(client._transport, httpx.AsyncHTTPTransport):
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)

    _on = _On(
        provider.get_tracer("pos_adapter"),
        TraceContextTextMapPropagator(),
        [instrumentor.uninstrument, on_http_client(instrument)],
    )


def disable() -> None:
    """Stop tracing (tests): no span from now on; clients instrumented stay so."""
    global _on
    on, _on = _on, None
    if on is not None:
        for undo in reversed(on.undo):
            undo()


# -- spans -------------------------------------------------------------------------------


@contextlib.contextmanager
def command_span(
    headers: Mapping[str, Any] | None, attributes: Mapping[str, str | None]
) -> Iterator[Span]:
    """The span of a command (tracing on), a child of the context its headers carry;
    :data:`current` holds the span's context meanwhile. Named ``command`` until
    :func:`command_done` names it after its type."""
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanKind

    on = _require()
    parent = received(headers)
    context = on.propagator.extract(parent.headers(), Context()) if parent else Context()
    kept = {key: value for key, value in attributes.items() if value is not None}
    with on.tracer.start_as_current_span(
        "command", context, kind=SpanKind.CONSUMER, attributes=kept
    ) as span:
        carrier: dict[str, str] = {}
        on.propagator.inject(carrier)
        token = current.set(received(carrier) or parent)
        try:
            yield span
        finally:
            current.reset(token)


def command_done(
    span: Span, message_type: str | None, pos_table_id: str | None, outcome: str, *,
    failed: bool,
) -> None:
    from opentelemetry.trace import StatusCode

    if message_type:
        span.update_name(message_type)
    if pos_table_id is not None:
        span.set_attribute("posTableId", pos_table_id)
    span.set_attribute("outcome", outcome)
    if failed:
        span.set_status(StatusCode.ERROR, outcome)


@contextlib.contextmanager
def pos_call(
    driver: str, operation: str, answers: tuple[type[BaseException], ...]
) -> Iterator[None]:
    """A driver call's span inside a traced command; outside one, its HTTP requests are
    not traced either. An exception of ``answers`` is the POS's answer, not a failure."""
    from opentelemetry import trace

    on = _require()
    if not trace.get_current_span().get_span_context().is_valid:
        with untraced_calls():
            yield
        return
    with on.tracer.start_as_current_span(
        f"pos {operation}",
        attributes={"pos.driver": driver, "pos.operation": operation},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except answers as exc:
            span.set_attribute("pos.answer", type(exc).__name__)
            raise
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
            raise


@contextlib.contextmanager
def commit_span(database: str, outbox_rows: int) -> Iterator[Span]:
    """A write set's commit: its wait for the group commit and the transaction."""
    on = _require()
    with on.tracer.start_as_current_span(
        "store commit",
        attributes={"db.system.name": database, "pos_adapter.outbox_rows": outbox_rows},
    ) as span:
        yield span


def batch_committed(span: Span, write_sets: int) -> None:
    span.set_attribute("db.operation.batch.size", write_sets)


@contextlib.contextmanager
def publish_span(
    parent: TraceContext, message_type: str, attributes: Mapping[str, str | None]
) -> Iterator[dict[str, str]]:
    """The publish of an outbox row (producer), a child of the row's context; yields
    the headers that carry the span's context to the consumer."""
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanKind

    on = _require()
    context = on.propagator.extract(parent.headers(), Context())
    kept = {key: value for key, value in attributes.items() if value is not None}
    with on.tracer.start_as_current_span(
        f"publish {message_type}", context, kind=SpanKind.PRODUCER, attributes=kept
    ):
        carrier: dict[str, str] = {}
        on.propagator.inject(carrier)
        yield carrier


def failed(description: str) -> None:
    """Mark the current span failed (a publish the broker refused)."""
    from opentelemetry import trace

    trace.get_current_span().set_status(trace.StatusCode.ERROR, description)


@contextlib.contextmanager
def untraced_calls() -> Iterator[None]:
    """HTTP requests made meanwhile (in this task, and the tasks it starts) make no
    span: background work, not a command's."""
    if _on is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_http_instrumentation

    with suppress_http_instrumentation():
        yield


def untraced(factory: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """``factory``, its runs under :func:`untraced_calls` (tracing on)."""
    if _on is None:
        return factory

    async def run() -> None:
        with untraced_calls():
            await factory()

    return run


def _require() -> _On:
    assert _on is not None, "tracing is off: check enabled() first"
    return _on
