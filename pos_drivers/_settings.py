"""A driver's own settings: one typed model next to the driver's code.

Each driver declares ``settings_model``, a :class:`DriverSettings` subclass whose
environment prefix is ``POS_ADAPTER_<DRIVER>_`` (``POS_ADAPTER_RESTAI_EMAIL``, ...), with
a default and a one-line ``description`` on every field and secrets as ``SecretStr``.
The registry hands the model to the adapter with the driver class, so a driver from
another package is configured exactly like the built-in ones.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class DriverSettings(BaseSettings):
    """Base of every driver's settings (a driver without settings uses it as is)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)
