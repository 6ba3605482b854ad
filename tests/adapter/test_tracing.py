"""adapter.tracing without a broker: the headers it accepts, when the environment turns
tracing on, the provider it builds, and that off costs nothing."""

from __future__ import annotations

import pytest

from adapter import tracing
from adapter.tracing import TraceContext, received, wanted
from pos_drivers import on_http_client
from pos_drivers._http import HttpxClient, pos_http_client
from pos_drivers._http_aiohttp import AiohttpClient

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, None),
        ({}, None),
        ({"schemaVersion": 1}, None),
        ({"traceparent": TRACEPARENT}, TraceContext(TRACEPARENT)),
        ({"traceparent": TRACEPARENT.encode()}, TraceContext(TRACEPARENT)),
        ({"traceparent": TRACEPARENT, "tracestate": "a=1,b=2"},
         TraceContext(TRACEPARENT, "a=1,b=2")),
        ({"traceparent": TRACEPARENT, "tracestate": ""}, TraceContext(TRACEPARENT)),
        ({"traceparent": TRACEPARENT, "tracestate": "a=" + "x" * 600},
         TraceContext(TRACEPARENT)),
        ({"traceparent": TRACEPARENT, "tracestate": "a=\u00e9"}, TraceContext(TRACEPARENT)),
        ({"traceparent": TRACEPARENT.upper()}, None),
        ({"traceparent": TRACEPARENT + "-extra"}, None),
        ({"traceparent": "ff" + TRACEPARENT[2:]}, None),
        ({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, None),
        ({"traceparent": f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01"}, None),
        ({"traceparent": b"\xff"}, None),
        ({"traceparent": 42}, None),
    ],
)
def test_received_keeps_only_a_well_formed_context(
    headers: dict[str, object] | None, expected: TraceContext | None
) -> None:
    assert received(headers) == expected


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "adapter-1"}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
         False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_the_environment_turns_tracing_on(environ: dict[str, str], on: bool) -> None:
    assert wanted(environ) is on


@pytest.fixture
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_otel_environment")
def test_without_configuration_tracing_stays_off_and_costs_nothing() -> None:
    async def loop() -> None:
        return None

    assert tracing.setup_from_environment() is False
    assert not tracing.enabled()
    assert tracing.untraced(loop) is loop


@pytest.mark.usefixtures("no_otel_environment")
@pytest.mark.parametrize(("environ", "service"), [
    ({}, "pos-adapter"),
    ({"OTEL_SERVICE_NAME": "adapter-lima"}, "adapter-lima"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes,site=lima"},
     "from-attributes"),
])
def test_the_provider_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], service: str
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    provider = tracing.build_provider()
    try:
        assert provider.resource.attributes["service.name"] == service
    finally:
        provider.shutdown()


async def test_hooks_see_every_pos_client_built_while_they_are_on() -> None:
    seen: list[object] = []
    remove = on_http_client(seen.append)
    first = pos_http_client("http://127.0.0.1:1", timeout=1.0)
    remove()
    second = pos_http_client("http://127.0.0.1:1", timeout=1.0)
    await first.aclose()
    await second.aclose()

    assert isinstance(first, HttpxClient)
    assert seen == [first.client]
    assert isinstance(second, AiohttpClient), "unhooked: aiohttp directly"
