"""The locations a process may serve: the environment's one, or those of a locations file.

``POS_ADAPTER_LOCATIONS_FILE`` names a TOML file with one ``[[location]]`` table per
location::

    [[location]]
    id = "downtown"                  # required: the OpenApp location
    driver = "restai"                # default: POS_ADAPTER_DRIVER
    pos_url = "https://pos.example"  # default: POS_ADAPTER_POS_URL
    email = "manager@example.com"    # the driver's settings, by field name
    password = "${DOWNTOWN_PASSWORD}"  # read from that environment variable
    branch_id = "…"
    poll_interval = 1.0              # overrides of the POS-facing adapter settings:
                                     # poll_interval, change_mode, pos_deadline,
                                     # pos_request_timeout, submission_policy

A driver setting a location leaves out falls back to its environment variable
(``POS_ADAPTER_RESTAI_EMAIL``), as for a single location. Without the file, the
environment describes one location exactly as before. Every fault of the file is one
line naming the location and the key; all of them stop the start (exit code 2).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from adapter.drivers import ConfiguredDriver, configured_driver, driver_class
from adapter.settings import Settings, SettingsError, describe_settings_error

OVERRIDES = frozenset({"poll_interval", "change_mode", "pos_deadline", "pos_request_timeout",
                       "submission_policy"})
"""The adapter settings a location may set for itself (the rest is the process's)."""
_ADAPTER_KEYS = frozenset({"id", "driver", "pos_url"}) | OVERRIDES
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Location:
    """One location: its adapter settings (the process's, with its own overrides and its
    ``location_id``) and its driver with the driver's settings."""

    settings: Settings
    driver: ConfiguredDriver

    @property
    def id(self) -> str:
        return self.settings.location_id


class LocationsFileError(SettingsError):
    """The locations file is wrong: one line per fault."""


def load_locations(settings: Settings) -> list[Location]:
    """The locations of ``settings.locations_file``, else the environment's one."""
    if settings.locations_file is None:
        return [Location(settings, configured_driver(settings))]
    tables = _read(settings.locations_file)
    faults: list[str] = []
    locations = [location for index, table in enumerate(tables)
                 if (location := _location(settings, index, table, faults)) is not None]
    seen: set[str] = set()
    for location in locations:
        if location.id in seen:
            faults.append(f"location {location.id!r}: id: used twice")
        seen.add(location.id)
    if not locations and not faults:
        faults.append("no [[location]] table")
    if faults:
        name = settings.locations_file
        raise LocationsFileError("\n".join(f"{name}: {fault}" for fault in faults))
    return locations


def location_settings(settings: Settings, location_id: str | None) -> Settings:
    """One location's adapter settings, for an operator command (its driver's settings
    are not needed, nor checked). ``location_id`` None: the only one there is."""
    if settings.locations_file is None:
        if location_id is None or location_id == settings.location_id:
            return settings
        return settings.model_copy(update={"location_id": location_id})
    tables = [t for t in _read(settings.locations_file) if isinstance(t, Mapping)]
    ids = [str(t.get("id")) for t in tables]
    if location_id is None:
        if len(ids) != 1:
            raise SettingsError(f"{settings.locations_file} has several locations "
                                f"({', '.join(ids)}): say which with --location")
        location_id = ids[0]
    if location_id not in ids:
        raise SettingsError(f"{settings.locations_file} has no location {location_id!r} "
                            f"(it has: {', '.join(ids)})")
    [table] = [t for t in tables if str(t.get("id")) == location_id]
    faults: list[str] = []
    own = {key: _expanded(value, key, faults, set(), key) for key, value in table.items()
           if key in _ADAPTER_KEYS and key != "id"}
    try:
        return Settings(**{**settings.model_dump(exclude={"locations_file"}), **own,
                           "location_id": location_id})
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc, "")) from None


def _read(path: Path) -> Sequence[Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LocationsFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LocationsFileError(f"{path}: not TOML ({exc})") from None
    tables = document.get("location", [])
    if not isinstance(tables, list):
        raise LocationsFileError(f"{path}: location: must be an array of tables ([[location]])")
    return tables


def _location(
    base: Settings, index: int, table: Any, faults: list[str]
) -> Location | None:
    if not isinstance(table, Mapping):
        faults.append(f"location #{index + 1}: must be a table")
        return None
    location_id = table.get("id")
    if not (isinstance(location_id, str) and location_id):
        faults.append(f"location #{index + 1}: id: required (a string)")
        return None
    where = f"location {location_id!r}"
    own_faults: list[str] = []
    unset: set[str] = set()
    values = {key: _expanded(value, f"{where}: {key}", own_faults, unset, key)
              for key, value in table.items()}
    try:
        cls = driver_class(str(values.get("driver", base.driver)))
    except SettingsError:
        own_faults.append(f"{where}: driver: unknown driver {values.get('driver')!r}")
        faults += own_faults
        return None
    model = cls.settings_model
    driver_values = {key: value for key, value in values.items() if key not in _ADAPTER_KEYS}
    own_faults += [f"{where}: {key}: not a setting of the adapter or of the {cls.name} driver"
                   for key in sorted(set(driver_values) - set(model.model_fields))]
    adapter_values = {key: value for key, value in values.items() if key in _ADAPTER_KEYS}
    adapter_values["location_id"] = adapter_values.pop("id")
    settings = _validated(lambda: Settings(**{**base.model_dump(exclude={"locations_file"}),
                                              **adapter_values}), where, unset, own_faults)
    known = {key: value for key, value in driver_values.items() if key in model.model_fields}
    driver_settings = _validated(lambda: model(**known), where, unset, own_faults)
    faults += own_faults
    if own_faults or settings is None or driver_settings is None:
        return None
    return Location(settings, ConfiguredDriver(cls, driver_settings))


T = TypeVar("T")


def _validated(
    build: Callable[[], T], where: str, unset: set[str], faults: list[str]
) -> T | None:
    """``build()``; its validation errors as faults (not again for keys whose variable is
    unset: that fault is said already)."""
    try:
        return build()
    except ValidationError as exc:
        faults += [f"{where}: {_key(error['loc'])}: {error['msg']}" for error in exc.errors()
                   if _key(error["loc"]) not in unset]
        return None


def _key(loc: Sequence[int | str]) -> str:
    return str(loc[0]) if loc else "*"


def _expanded(value: Any, where: str, faults: list[str], unset: set[str], key: str) -> Any:
    """``"${NAME}"`` (also inside a string) replaced by the environment variable NAME."""
    if not isinstance(value, str):
        return value

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            faults.append(f"{where}: ${{{name}}}: the environment variable {name} is not set")
            unset.add(key)
            return ""
        return found

    return _VARIABLE.sub(variable, value)
