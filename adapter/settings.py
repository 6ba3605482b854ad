"""Worker settings, read from ``POS_ADAPTER_*`` environment variables.

Every setting, its variable and its default (the README lists the same):

==================================  ===========================================  =========
variable                            meaning                                      default
==================================  ===========================================  =========
POS_ADAPTER_AMQP_URL                broker URL (``amqps://`` works too)          amqp://guest:guest@127.0.0.1:5672/
POS_ADAPTER_LOCATION_ID             the OpenApp location this adapter serves     demo
POS_ADAPTER_DRIVER                  POS driver name (entry point)                mock
POS_ADAPTER_POS_URL                 the POS's base URL                           http://127.0.0.1:8081
POS_ADAPTER_STORE_URL               SQLAlchemy async URL of the store            sqlite+aiosqlite:///./pos-adapter.db
POS_ADAPTER_POLL_INTERVAL           seconds between change polls                 2
POS_ADAPTER_CHANGE_MODE             ``auto``, ``push``, ``poll``, ``table-poll``     auto
POS_ADAPTER_POS_DEADLINE            seconds a command may take, its table's     8
                                    lock, POS calls and retries included
POS_ADAPTER_POS_REQUEST_TIMEOUT     seconds for one POS request                  3
POS_ADAPTER_QUEUE_TYPE              ``quorum`` or ``classic`` command queue      quorum
POS_ADAPTER_PREFETCH                unacked commands in flight                   32
POS_ADAPTER_MAX_REDELIVERIES        redeliveries before a crashing command is    5
                                    dead-lettered
POS_ADAPTER_MAX_MESSAGE_BYTES       largest accepted body                        262144
POS_ADAPTER_COMMANDS_EXCHANGE       OpenApp -> POS topic exchange                openapp.commands
POS_ADAPTER_EVENTS_EXCHANGE         POS -> OpenApp topic exchange                openapp.events
POS_ADAPTER_DEAD_LETTER_EXCHANGE    dead-letter exchange                         openapp.dead-letter
POS_ADAPTER_INBOX_QUEUE             declare ``openapp.inbox.<location>``         true
POS_ADAPTER_INBOX_TTL               its message TTL, seconds                     604800
POS_ADAPTER_STREAM_MAX_AGE          seconds before a stream expires              43200
POS_ADAPTER_SUBMISSION_POLICY       ``partial`` or ``atomic``                    partial
POS_ADAPTER_PRODUCT_CACHE_TTL       seconds the product list is reused for the   2
                                    check before a submission (0: never)
POS_ADAPTER_SHUTDOWN_GRACE          seconds to finish in-flight work on stop     10
POS_ADAPTER_LEASE_TTL               seconds a location's lease lasts unrenewed   15
POS_ADAPTER_RETENTION               seconds handled messages are remembered      604800
POS_ADAPTER_LOG_LEVEL               debug, info, warning, error                  info
POS_ADAPTER_LOG_FORMAT              ``json`` or ``console``                      json
POS_ADAPTER_METRICS_HOST            address of the Prometheus endpoint           127.0.0.1
POS_ADAPTER_METRICS_PORT            its port; ``0`` switches it off              9464
POS_ADAPTER_WATCHDOG_INTERVAL       seconds between checks that our consumer     5
                                    is still registered on the command queue
POS_ADAPTER_HEALTH_INTERVAL         seconds between PosHealthReported messages   30
POS_ADAPTER_RESTAI_EMAIL            RestAI user (driver ``restai``)              (unset)
POS_ADAPTER_RESTAI_PASSWORD         its password, never logged                   (unset)
POS_ADAPTER_RESTAI_BRANCH_ID        RestAI branch; first of the account if unset (unset)
==================================  ===========================================  =========
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.watcher import ChangeMode


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


Seconds = Annotated[float, Field(gt=0)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


class Settings(BaseSettings):
    """The worker's configuration (see the module docstring for the table)."""

    model_config = SettingsConfigDict(env_prefix="POS_ADAPTER_", extra="ignore", frozen=True)

    amqp_url: str = Field("amqp://guest:guest@127.0.0.1:5672/", pattern=r"^amqps?://")
    location_id: Identifier = "demo"
    driver: str = "mock"
    pos_url: str = Field("http://127.0.0.1:8081", pattern=r"^https?://")
    store_url: str = "sqlite+aiosqlite:///./pos-adapter.db"
    poll_interval: Seconds = 2.0
    change_mode: ChangeMode = ChangeMode.AUTO
    pos_deadline: Seconds = 8.0
    pos_request_timeout: Seconds = 3.0
    queue_type: QueueType = QueueType.QUORUM
    prefetch: Annotated[int, Field(ge=1, le=1000)] = 32
    max_redeliveries: Annotated[int, Field(ge=0, le=100)] = 5
    max_message_bytes: Annotated[int, Field(ge=1024)] = 256 * 1024
    commands_exchange: str = "openapp.commands"
    events_exchange: str = "openapp.events"
    dead_letter_exchange: str = "openapp.dead-letter"
    inbox_queue: bool = True
    inbox_ttl: Seconds = 7 * 24 * 3600
    stream_max_age: Seconds = 12 * 3600
    submission_policy: SubmissionPolicy = SubmissionPolicy.PARTIAL
    product_cache_ttl: Annotated[float, Field(ge=0)] = 2.0
    shutdown_grace: Seconds = 10.0
    lease_ttl: Seconds = 15.0
    retention: Seconds = 7 * 24 * 3600
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.JSON
    metrics_host: str = Field("127.0.0.1", min_length=1)
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    watchdog_interval: Seconds = 5.0
    health_interval: Seconds = 30.0
    restai_email: str | None = None
    restai_password: SecretStr | None = None
    restai_branch_id: str | None = None

    @property
    def command_queue(self) -> str:
        return f"pos-adapter.{self.location_id}"

    @property
    def dead_letter_queue(self) -> str:
        return f"pos-adapter.{self.location_id}.dead-letter"

    @property
    def openapp_inbox_queue(self) -> str:
        return f"openapp.inbox.{self.location_id}"

    def driver_options(self) -> dict[str, str]:
        """Driver-specific options; the RestAI password is revealed only here."""
        options: dict[str, str] = {}
        if self.restai_email:
            options["restai_email"] = self.restai_email
        if self.restai_password is not None:
            options["restai_password"] = self.restai_password.get_secret_value()
        if self.restai_branch_id:
            options["restai_branch_id"] = self.restai_branch_id
        return options


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, turning errors into one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "POS_ADAPTER_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
