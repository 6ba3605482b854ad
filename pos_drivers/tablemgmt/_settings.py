"""The ``tablemgmt`` driver's settings, from ``POS_ADAPTER_TABLEMGMT_*`` variables.

The POS's base URL and the per-request timeout are the adapter's own
(``POS_ADAPTER_POS_URL``, ``POS_ADAPTER_POS_REQUEST_TIMEOUT``); everything the Table
Management API needs beyond them is here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from pos_drivers._settings import DriverSettings

ENV_PREFIX = "POS_ADAPTER_TABLEMGMT_"


class TableMgmtSettings(DriverSettings):
    """How to reach one outlet of a Table Management API."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    token: SecretStr | None = Field(
        None, description="the API's JWT (admin or manager role), or else a token file"
    )
    token_file: Path | None = Field(
        None,
        description="a file holding the JWT, re-read when it changes and after a 401",
    )
    outlet_id: str = Field(
        min_length=1, max_length=128, description="the outlet whose tables this adapter serves"
    )
    currency: str = Field(
        "IDR",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of an order that names no currency",
    )
    page_size: int = Field(
        100, ge=1, le=100, description="tables per page when the table list is read (max 100)"
    )
    table_refresh_seconds: float = Field(
        5.0, ge=0, description="seconds between two reads of the table list for an unknown name"
    )

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("token_file", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("outlet_id")
    @classmethod
    def _outlet_is_a_path_segment(cls, value: str) -> str:
        # It goes into URL paths: a dot segment would be resolved away by the client.
        value = value.strip()
        if value in ("", ".", ".."):
            raise ValueError("must be the outlet's id")
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> TableMgmtSettings:
        if (self.token is None) == (self.token_file is None):
            raise ValueError(
                f"set exactly one of {ENV_PREFIX}TOKEN and {ENV_PREFIX}TOKEN_FILE"
            )
        return self
