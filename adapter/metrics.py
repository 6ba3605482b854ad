"""Prometheus metrics of one worker process, and the HTTP endpoint that serves them.

Each :class:`Metrics` has its own ``CollectorRegistry`` (tests run several workers in one
process, and the process-wide default registry would mix them). A process serves many
locations: what belongs to one carries its ``location`` label, through the
:class:`LocationMetrics` view the location's parts are given (and forgotten when the
location is handed over to another process). The endpoint is prometheus-client's WSGI
app on the standard library's threading WSGI server, in a daemon thread: a scrape never
waits for the event loop, so a busy loop does not make scrapes fail. For the same reason
a hung loop would leave the last values standing; each location's watchdog therefore
stamps ``pos_adapter_watchdog_last_check_timestamp_seconds`` on every check, and
``pos-adapter health`` trusts ``pos_adapter_consumer_up`` only while that stamp is fresh.

The metrics (``type`` is a messageType, ``outcome`` the inbox outcome of the command):

==============================================  =========  =================================
name                                            kind       labels
==============================================  =========  =================================
pos_adapter_messages_in_total                   counter    location, type, outcome
                                                           (RESOLVED, REJECTED:<reason>,
                                                           ACCEPTED, ..., DUPLICATE,
                                                           DEAD_LETTERED, CRASHED)
pos_adapter_messages_out_total                  counter    location, type (on confirm)
pos_adapter_handling_seconds                    histogram  location, type (delivery to
                                                           settlement)
pos_adapter_pos_call_seconds                    histogram  location, driver, operation
pos_adapter_pos_errors_total                    counter    location, driver, operation
pos_adapter_active_streams                      gauge      location
pos_adapter_outbox_backlog                      gauge      (unsent rows, sampled)
pos_adapter_dead_lettered_total                 counter    location
pos_adapter_consumer_up                         gauge      location
pos_adapter_consumer_restarts_total             counter    location
pos_adapter_watchdog_last_check_timestamp_...   gauge      location
pos_adapter_task_failures_total                 counter    task (background tasks that
                                                           raised and were restarted)
pos_adapter_locations_served                    gauge      (locations this process serves)
pos_adapter_leases_lost_total                   counter    location (leases this process
                                                           could not renew: served no more)
pos_adapter_location_info                       gauge      location, driver (1 while served)
pos_adapter_info                                info       version
==============================================  =========  =================================
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, make_wsgi_app

from schemas import MessageType

log = structlog.get_logger("pos_adapter.metrics")

UNKNOWN_TYPE = "unknown"
SHUTDOWN_POLL = 0.05
CONSUMER_UP = "pos_adapter_consumer_up"
LAST_CHECK = "pos_adapter_watchdog_last_check_timestamp_seconds"
_KNOWN_TYPES = frozenset(t.value for t in MessageType)


def software_version() -> str:
    """The installed package's version (PosHealthReported.softwareVersion)."""
    try:
        return version("pos-adapter")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def message_type_label(value: str | None) -> str:
    """A bounded ``type`` label: a contract messageType, else ``unknown`` (poison can
    carry any text in its AMQP ``type``)."""
    if value is not None and value in _KNOWN_TYPES:
        return value
    return UNKNOWN_TYPE


class Metrics:
    """The instruments of one worker process, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        location = ["location"]
        self.messages_in = Counter(
            "pos_adapter_messages_in", "Commands taken from the queue, by type and outcome.",
            [*location, "type", "outcome"], registry=registry,
        )
        self.messages_out = Counter(
            "pos_adapter_messages_out", "Messages published and confirmed by the broker.",
            [*location, "type"], registry=registry,
        )
        self.handling_seconds = Histogram(
            "pos_adapter_handling_seconds", "From delivery to ack/nack, by command type.",
            [*location, "type"], registry=registry,
        )
        self.pos_call_seconds = Histogram(
            "pos_adapter_pos_call_seconds", "One POS driver call (one attempt).",
            [*location, "driver", "operation"], registry=registry,
        )
        self.pos_errors = Counter(
            "pos_adapter_pos_errors",
            "POS driver calls that failed (unreachable, 5xx, timeouts, unexpected errors; "
            "business refusals are answers, not errors).",
            [*location, "driver", "operation"], registry=registry,
        )
        self.active_streams = Gauge(
            "pos_adapter_active_streams", "Change streams being watched.", location,
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "pos_adapter_outbox_backlog", "Outbox rows not confirmed by the broker yet (sampled).",
            registry=registry,
        )
        self.dead_lettered = Counter(
            "pos_adapter_dead_lettered", "Commands dead-lettered with a reason.", location,
            registry=registry,
        )
        self.consumer_up = Gauge(
            CONSUMER_UP, "1 while our consumer is registered on the command queue.", location,
            registry=registry,
        )
        self.consumer_restarts = Counter(
            "pos_adapter_consumer_restarts", "Consumers the watchdog registered again.",
            location, registry=registry,
        )
        self.last_check = Gauge(
            LAST_CHECK, "When the consumer watchdog last checked (Unix time).", location,
            registry=registry,
        )
        self.task_failures = Counter(
            "pos_adapter_task_failures", "Background tasks that raised (and were restarted).",
            ["task"], registry=registry,
        )
        self.locations_served = Gauge(
            "pos_adapter_locations_served", "Locations this process serves now.",
            registry=registry,
        )
        self.leases_lost = Counter(
            "pos_adapter_leases_lost", "Locations dropped at once because this process could "
            "not renew their lease (a fleet on a shared store).", location, registry=registry,
        )
        self.location_info = Gauge(
            "pos_adapter_location_info", "1 for each location served, with its driver.",
            [*location, "driver"], registry=registry,
        )
        Info("pos_adapter", "The adapter's identity.", registry=registry).info(
            {"version": software_version()}
        )
        self._served: dict[str, LocationMetrics] = {}
        self._children = LabelledChildren()

    def location(self, location_id: str, driver: str) -> LocationMetrics:
        """The view of one location served by this process."""
        view = self._served[location_id] = LocationMetrics(self, location_id, driver)
        self.location_info.labels(location_id, driver).set(1)
        self.locations_served.set(len(self._served))
        return view

    def published(self, location_id: str, message_type: str) -> None:
        """A message the broker confirmed (counted once per message)."""
        self._children(self.messages_out, location_id, message_type).inc()

    def forget(self, location_id: str) -> None:
        """The location is no longer served here: its gauges go (counters stay)."""
        view = self._served.pop(location_id, None)
        if view is None:
            return
        for gauge in (self.active_streams, self.consumer_up, self.last_check):
            with contextlib.suppress(KeyError):
                gauge.remove(location_id)
        with contextlib.suppress(KeyError):
            self.location_info.remove(location_id, view.driver)
        self.locations_served.set(len(self._served))


class LabelledChildren:
    """Labelled children looked up once: ``labels()`` formats and locks on every call, and
    each command, POS call and published message counts. Their labels are bounded sets."""

    def __init__(self) -> None:
        self._found: dict[tuple[object, ...], Any] = {}

    def __call__(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._found.get(key)
        if child is None:
            child = self._found[key] = metric.labels(*labels)
        return child


class LocationMetrics:
    """The instruments of one location, its ``location`` label bound."""

    def __init__(self, metrics: Metrics, location_id: str, driver: str) -> None:
        self.location_id = location_id
        self.driver = driver
        self._metrics = metrics
        self.dead_lettered = metrics.dead_lettered.labels(location_id)
        self.consumer_up = metrics.consumer_up.labels(location_id)
        self.consumer_restarts = metrics.consumer_restarts.labels(location_id)
        self.last_check = metrics.last_check.labels(location_id)
        self.pos_call_seconds = metrics.pos_call_seconds
        self.pos_errors = metrics.pos_errors
        self.last_pos_answer: float | None = None
        """When (monotonic) the POS last answered a call, None since a call failed."""
        self._children = LabelledChildren()

    def _child(self, metric: Any, *labels: str) -> Any:
        return self._children(metric, self.location_id, *labels)

    def command_settled(self, message_type: str, outcome: str, seconds: float) -> None:
        metrics = self._metrics
        self._child(metrics.messages_in, message_type, outcome).inc()
        self._child(metrics.handling_seconds, message_type).observe(seconds)

    def pos_call(self, driver: str, operation: str, seconds: float, *, failed: bool) -> None:
        self._child(self.pos_call_seconds, driver, operation).observe(seconds)
        if failed:
            self._child(self.pos_errors, driver, operation).inc()
        self.last_pos_answer = None if failed else time.monotonic()

    def watch_streams(self, count: Callable[[], int]) -> None:
        """Read the number of active streams at scrape time."""
        self._metrics.active_streams.labels(self.location_id).set_function(
            lambda: float(count())
        )

    def watchdog_checked(self, consumer_up: bool, at: float) -> None:
        self.consumer_up.set(1.0 if consumer_up else 0.0)
        self.last_check.set(at)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape is not worth a line on stderr."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """The metrics of one registry over HTTP, served from a daemon thread."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The port actually bound (None when not serving)."""
        return None if self._server is None else int(self._server.server_port)

    def start(self, host: str, port: int) -> bool:
        """Serve on ``host:port``; False (logged) if the port cannot be bound.

        A taken port does not stop the worker: answering commands matters more than
        being scraped, and ``pos-adapter health`` reports the endpoint as unreachable
        (or as another location's) so the operator still learns of it.
        """
        server_class = _Server6 if ":" in host else _Server
        try:
            server = make_server(host, port, make_wsgi_app(self._registry),
                                 server_class=server_class, handler_class=_QuietHandler)
        except OSError as exc:
            log.error("metrics endpoint not started", host=host, port=port, error=str(exc))
            return False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
            name="metrics-endpoint", daemon=True,
        )
        self._thread.start()
        log.info("metrics endpoint listening", host=host, port=self.port)
        return True

    async def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        # shutdown() waits for the serving loop's next poll: not on the event loop.
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)
