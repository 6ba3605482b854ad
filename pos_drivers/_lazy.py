"""Names of a package loaded on first use (PEP 562), for what the worker never needs.

A driver package is imported by the worker through its entry point; the POS imitation it
also ships (uvicorn, starlette, sse-starlette, PyJWT) is for the tests, the demo and
``pos-adapter mock-pos``, and would otherwise stay resident in every worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps a name to the submodule
    (relative, e.g. ``"._runner"``) that defines it; the value is kept once loaded."""

    def load(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home, package), name)
        setattr(import_module(package), name, value)
        return value

    return load
