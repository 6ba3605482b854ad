"""Drivers by name, from the ``pos_adapter.drivers`` entry point group (the built-in
ones are declared there too, in this project's pyproject.toml).

A third-party package adds a driver by declaring, in its own pyproject.toml::

    [project.entry-points."pos_adapter.drivers"]
    mypos = "mypos_driver:MyPosDriver"
"""

from __future__ import annotations

from importlib.metadata import entry_points

from pos_drivers._base import PosDriver

ENTRY_POINT_GROUP = "pos_adapter.drivers"


def available_drivers() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_driver(name: str) -> type[PosDriver]:
    """The driver class registered under ``name``; KeyError naming the known ones."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return _checked(name, ep.load())
    raise KeyError(f"unknown POS driver {name!r}; known: {', '.join(available_drivers())}")


def _checked(name: str, obj: object) -> type[PosDriver]:
    if not (isinstance(obj, type) and issubclass(obj, PosDriver)):
        raise TypeError(f"driver {name!r} is not a PosDriver subclass")
    return obj
