"""The adapter's own settings, read from ``POS_ADAPTER_*`` environment variables.

Every field has its default and a one-line description; the README's configuration
table is made from them (``pos-adapter settings --markdown``; a test fails when the two
drift apart). The adapter knows no driver by name: a driver's settings are its own model
(``pos_drivers.DriverSettings``, ``POS_ADAPTER_<DRIVER>_*``), loaded by ``adapter.drivers``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from yarl import URL

from handlers import ChangeMode


class QueueType(StrEnum):
    QUORUM = "quorum"
    CLASSIC = "classic"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class SubmissionPolicy(StrEnum):
    PARTIAL = "partial"
    ATOMIC = "atomic"


STORE_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
"""The databases the store runs on, each with the asyncio driver it is used through."""
STORE_EXAMPLES = ("sqlite+aiosqlite:///path/to/file.db or "
                  "postgresql+asyncpg://user:password@host/database")

Seconds = Annotated[float, Field(gt=0)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]
ENV_PREFIX = "POS_ADAPTER_"


class Settings(BaseSettings):
    """The worker's configuration."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    amqp_url: str = Field("amqp://guest:guest@127.0.0.1:5672/",
                          description="broker URL (TLS: `amqps://…?cafile=…&certfile=…&"
                          "keyfile=…`, see [docs/deployment.md](docs/deployment.md#tls-to-the-"
                          "broker)); the nodes of a cluster comma-separated")
    amqp_allow_insecure_tls: bool = Field(
        False, description="accept `no_verify_ssl=1` in that URL: TLS without checking the "
        "broker's certificate, for a test broker only (refused at start otherwise; see "
        "[docs/deployment.md](docs/deployment.md#tls-to-the-broker))")
    location_id: Identifier = Field("demo", description="the OpenApp location this adapter "
                                    "serves")
    driver: str = Field("mock", description="POS driver (entry point name): `mock`, "
                        "`restai`, `tablemgmt`, …")
    pos_url: str = Field("http://127.0.0.1:8081", pattern=r"^https?://",
                         description="the POS's base URL")
    store_url: str = Field("sqlite+aiosqlite:///./pos-adapter.db",
                           description="SQLAlchemy URL of the store: "
                           "`sqlite+aiosqlite:///<file>` or "
                           "`postgresql+asyncpg://<user>:<password>@<host>/<database>`")
    poll_interval: Seconds = Field(2.0, description="seconds between change polls (decimal, "
                                   "e.g. `0.5`)")
    change_mode: ChangeMode = Field(ChangeMode.AUTO, description="`auto`, `push`, `poll` or "
                                    "`table-poll` (see below)")
    pos_deadline: Seconds = Field(8.0, description="seconds a command may take from the start "
                                  "of its handling: the wait for its table, every POS call "
                                  "and retry included (the watcher's reads get as long)")
    pos_request_timeout: Seconds = Field(3.0, description="seconds for one POS request")
    queue_type: QueueType = Field(QueueType.QUORUM, description="command queue type, "
                                  "`quorum` or `classic`")
    dead_letter_queue_type: QueueType = Field(
        QueueType.CLASSIC, description="dead-letter queue type; `quorum` replicates dead "
        "letters in a cluster, at the broker's cost of one more quorum queue per location "
        "(an existing queue keeps its type)")
    prefetch: Annotated[int, Field(ge=1, le=1000)] = Field(
        32, description="unacknowledged commands in flight")
    max_redeliveries: Annotated[int, Field(ge=0, le=100)] = Field(
        5, description="redeliveries of a command that crashes the handler before it is "
        "dead-lettered with the reason")
    max_message_bytes: Annotated[int, Field(ge=1024)] = Field(
        256 * 1024, description="largest accepted body")
    commands_exchange: str = Field("openapp.commands", description="OpenApp → POS topic "
                                   "exchange")
    events_exchange: str = Field("openapp.events", description="POS → OpenApp topic exchange")
    dead_letter_exchange: str = Field("openapp.dead-letter", description="dead-letter "
                                      "exchange")
    inbox_queue: bool = Field(True, description="declare `openapp.inbox.<location>` so no "
                              "event is dropped before OpenApp binds")
    inbox_ttl: Seconds = Field(7 * 24 * 3600, description="that queue's message TTL, seconds")
    stream_max_age: Seconds = Field(12 * 3600, description="seconds after which a stream "
                                    "expires")
    submission_policy: SubmissionPolicy = Field(SubmissionPolicy.PARTIAL,
                                                description="`partial` or `atomic`")
    product_cache_ttl: Annotated[float, Field(ge=0)] = Field(
        2.0, description="seconds the POS's product list is reused for the check before a "
        "submission (the POS checks again when the lines are added); `0` reads it every time")
    shutdown_grace: Seconds = Field(10.0, description="seconds to finish in-flight work on "
                                    "stop")
    lease_ttl: Seconds = Field(15.0, description="seconds a location's lease (and a fleet "
                               "member's heartbeat) lasts without renewal: another process "
                               "takes a dead one's locations over after it")
    retention: Seconds = Field(7 * 24 * 3600, description="seconds handled messages and sent "
                               "results are kept")
    log_level: LogLevel = Field(LogLevel.INFO, description="`debug`, `info`, `warning`, "
                                "`error`; chatty libraries (aiormq, httpx, ...) log warnings "
                                "and errors only unless `debug` (docs/operations.md, Logs)")
    log_format: LogFormat = Field(LogFormat.JSON, description="`json` or `console`, for "
                                  "every line on stderr, the libraries' too")
    metrics_host: str = Field("127.0.0.1", min_length=1, description="address of the "
                              "Prometheus metrics endpoint")
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        9464, description="its port; `0` switches it off")
    watchdog_interval: Seconds = Field(5.0, description="seconds between checks that the "
                                       "worker's consumer is still registered")
    health_interval: Seconds = Field(30.0, description="seconds between `PosHealthReported` "
                                     "messages")
    locations_file: Path | None = Field(None, description="a TOML file of the locations this "
                                        "process may serve (see "
                                        "[docs/deployment.md](docs/deployment.md)); unset: "
                                        "the one location above")

    @field_validator("amqp_url")
    @classmethod
    def _broker_nodes(cls, value: str) -> str:
        nodes = [node.strip() for node in value.split(",")]
        if not all(node.startswith(("amqp://", "amqps://")) for node in nodes):
            raise ValueError("each URL must start with amqp:// or amqps://")
        return value

    @field_validator("store_url")
    @classmethod
    def _store_we_can_open(cls, value: str) -> str:
        """Refused at start, in one line: another database, or a sync driver, would fail
        deep inside SQLAlchemy with a traceback once the worker opens the store."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL; use {STORE_EXAMPLES}") from None
        if STORE_DRIVERS.get(url.get_backend_name()) != url.get_driver_name():
            raise ValueError(f"unsupported scheme {url.drivername!r}; use {STORE_EXAMPLES}")
        return value

    @model_validator(mode="after")
    def _broker_certificate_checked(self) -> Self:
        """aiormq turns certificate verification off for ``no_verify_ssl`` with any value
        but 0, silently: a man in the middle would get the broker's credentials."""
        insecure = [url for url in self.amqp_url.split(",") if not verifies_certificate(url)]
        if insecure and not self.amqp_allow_insecure_tls:
            raise ValueError(
                f"{ENV_PREFIX}AMQP_URL: no_verify_ssl turns off the check of the broker's "
                f"certificate; trust its CA with cafile=… instead, or set "
                f"{ENV_PREFIX}AMQP_ALLOW_INSECURE_TLS=true (a test broker only)")
        return self

    @property
    def command_queue(self) -> str:
        return f"pos-adapter.{self.location_id}"

    @property
    def dead_letter_queue(self) -> str:
        return f"pos-adapter.{self.location_id}.dead-letter"

    @property
    def openapp_inbox_queue(self) -> str:
        return f"openapp.inbox.{self.location_id}"


def verifies_certificate(url: str) -> bool:
    """Whether a connection to this broker URL checks the broker's certificate (aiormq's
    reading of the URL: ``no_verify_ssl`` other than ``0`` turns the check off)."""
    parsed = URL(url.strip())
    return parsed.scheme != "amqps" or parsed.query.get("no_verify_ssl", "0") == "0"


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


def describe_settings_error(exc: ValidationError, env_prefix: str) -> str:
    """One line naming each variable in error (``POS_ADAPTER_PREFETCH: …``); an error of
    the whole model (several variables together) names them in its message."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            problems.append(f"{env_prefix}{str(error['loc'][0]).upper()}: {message}")
        else:
            problems.append(message)
    return "invalid configuration: " + "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, turning errors into one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc, ENV_PREFIX)) from None
