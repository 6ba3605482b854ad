"""The configured POS driver: its class from the registry, its settings from its own model.

The adapter names no driver: ``POS_ADAPTER_DRIVER`` picks an entry point of the
``pos_adapter.drivers`` group, and the class brings its settings model
(``PosDriver.settings_model``, environment prefix ``POS_ADAPTER_<DRIVER>_``). An unknown
driver or a bad driver setting is a :class:`~adapter.settings.SettingsError`: one line
naming the variable, exit code 2 at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from adapter.settings import Settings, SettingsError, describe_settings_error
from pos_drivers import DriverConfig, DriverSettings, PosDriver, available_drivers, load_driver


@dataclass(frozen=True, slots=True)
class ConfiguredDriver:
    """A driver class and its settings, checked: ready to build drivers from."""

    driver_class: type[PosDriver]
    settings: DriverSettings

    def build(self, settings: Settings) -> PosDriver:
        config = DriverConfig(
            pos_url=settings.pos_url,
            request_timeout=min(settings.pos_request_timeout, settings.pos_deadline),
        )
        return self.driver_class(config, self.settings)


def driver_class(name: str) -> type[PosDriver]:
    try:
        return load_driver(name)
    except KeyError:
        known = ", ".join(available_drivers())
        raise SettingsError(
            f"invalid configuration: POS_ADAPTER_DRIVER: unknown driver {name!r}; known: {known}"
        ) from None


def env_prefix(model: type[DriverSettings]) -> str:
    return str(model.model_config.get("env_prefix") or "")


def driver_settings(
    driver: type[PosDriver], values: Mapping[str, Any] | None = None
) -> DriverSettings:
    """The driver's settings from the environment (``values`` override it)."""
    model = driver.settings_model
    try:
        return model(**dict(values or {}))
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc, env_prefix(model))) from None


def configured_driver(settings: Settings) -> ConfiguredDriver:
    """The driver ``settings`` name, with its settings read and checked."""
    cls = driver_class(settings.driver)
    return ConfiguredDriver(cls, driver_settings(cls))
