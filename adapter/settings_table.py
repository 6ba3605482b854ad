"""The configuration as people read it, made from the settings models themselves.

``pos-adapter settings --markdown`` prints the README's configuration tables: the
adapter's own, then one per installed driver, each row a field of the model (variable,
description, default). The README holds them between ``<!-- settings:begin -->`` and
``<!-- settings:end -->``; a test fails when they drift apart from the models.
``pos-adapter settings`` shows the values in effect, secrets masked.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from adapter.drivers import driver_class, env_prefix
from adapter.settings import ENV_PREFIX, Settings
from pos_drivers import available_drivers

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"


def markdown_table(model: type[BaseSettings], prefix: str) -> str:
    rows = ["| variable | meaning | default |", "|---|---|---|"]
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else shown(field.default)
        rows.append(f"| `{prefix}{name.upper()}` | {field.description or ''} | {default} |")
    return "\n".join(rows)


def configuration_markdown() -> str:
    """The adapter's table, then each installed driver's (the README's block)."""
    parts = ["### The adapter", "", markdown_table(Settings, ENV_PREFIX)]
    for name in available_drivers():
        model = driver_class(name).settings_model
        if not model.model_fields:
            continue
        prefix = env_prefix(model)
        parts += ["", f"### Driver `{name}` (`{prefix}*`)", "", markdown_table(model, prefix)]
    return "\n".join(parts)


def in_effect(settings: BaseModel) -> list[tuple[str, str]]:
    """(field, value) of a settings model, secrets masked."""
    return [(name, plain(getattr(settings, name))) for name in type(settings).model_fields]


def shown(value: Any) -> str:
    """A default as the tables show it."""
    return "unset" if value is None else f"`{plain(value)}`"


def plain(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "********"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
