"""SQLAlchemy's asyncio engine, without the ORM it would bring along.

The package ``sqlalchemy.ext.asyncio`` imports, beside its engine, the ORM's async
session, and with it ``sqlalchemy.orm``: 6 MiB resident in every worker, which uses
SQLAlchemy Core only (``bench.startup``: an idle worker 80.1 MiB with it, 73.8 without).
So, unless something imported it already, the package is entered in ``sys.modules`` here
with its ``__init__`` not yet run: its modules (``.engine``, ``.result``...) import as
they always do, and the first other name asked of the package (``AsyncSession``, say)
runs its ``__init__`` there and then. Any code in the process can still use the whole
package; only a worker that never asks for the ORM does without it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

PACKAGE = "sqlalchemy.ext.asyncio"


def _enter_unrun(name: str) -> None:
    """Enter package ``name`` in ``sys.modules`` with its ``__init__`` run on first use."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def __getattr__(attribute: str) -> Any:  # noqa: N807 (PEP 562)
        if importlib.util.find_spec(f"{name}.{attribute}") is not None:
            return importlib.import_module(f"{name}.{attribute}")  # `from . import exc`
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, package)


if PACKAGE not in sys.modules:
    _enter_unrun(PACKAGE)

from sqlalchemy.ext.asyncio.engine import (  # noqa: E402  (after the package is entered)
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine"]
