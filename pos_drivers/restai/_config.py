"""The RestAI driver's settings: ``POS_ADAPTER_RESTAI_*`` (see ``docs/restai.md``).

The account needs the ``branch_manager`` role: it has every permission the driver uses
(orders, tables, menu). The password is a secret: never logged, never shown.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from pos_drivers._settings import DriverSettings

Seconds = Annotated[float, Field(ge=0)]


class RestaiSettings(DriverSettings):
    model_config = SettingsConfigDict(env_prefix="POS_ADAPTER_RESTAI_", extra="ignore",
                                      frozen=True)

    email: str = Field(description="RestAI staff account (role branch_manager)")
    password: SecretStr = Field(description="its password (never logged)")
    branch_id: str | None = Field(
        None, description="RestAI branch (sede) UUID; the account's first branch when unset"
    )
    max_inline_wait: Seconds = Field(
        2.0, description="a 429 asking to wait at most this long is waited out in the call"
    )
    deep_poll_interval: Seconds = Field(
        30.0, description="seconds between re-reads of line statuses (invisible to lists)"
    )
    ws_backoff_initial: Seconds = Field(
        0.2, description="first wait before reconnecting the WebSocket"
    )
    ws_backoff_max: Seconds = Field(
        30.0, description="longest wait between two WebSocket reconnection attempts"
    )
    table_refresh_interval: Seconds = Field(
        5.0, description="the table list is re-read on a cache miss at most this often"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("branch_id")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        return (value or "").strip() or None
