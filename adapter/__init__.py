"""The adapter: the worker (``pos-adapter run``) and the operators' commands.

Two libraries load, when it is installed, what is only used when one asks for it, and a
worker never does: httpx its command-line client (click, rich, pygments: ``httpx._main``),
structlog rich for tracebacks it renders only with ``RichTracebackFormatter`` and
``dict_tracebacks`` (the adapter uses neither: ``adapter.logging``). Rich is installed
with typer, click with uvicorn; left to themselves, the two would keep about 4 MiB
resident in every worker. So, before either is imported, each is made to find its extra
missing; rich stays importable for the commands that print with it.
"""

import sys


def _skip_unused_extras() -> None:
    # httpx falls back to a stub `main` when its client cannot be imported; no one in
    # this process runs `httpx` (its console script is a process of its own).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401  (structlog.dev and .tracebacks: `rich = None`)
    finally:
        del sys.modules["rich"]


_skip_unused_extras()
