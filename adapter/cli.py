"""The ``pos-adapter`` executable: ``pos-adapter run`` goes straight to the worker, any
other command line (``pos-adapter run --help`` included) to ``adapter.commands``.

Typer builds every command of the command line on each invocation: through it, a worker
would load, and keep resident for as long as it runs, typer, rich and the operators'
commands (the dead-letter tools, replay, health...), about 4 MiB it never uses.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING


def main() -> None:
    if sys.argv[1:] == ["run"]:
        from adapter.run import run_worker

        try:
            code = run_worker()
        except KeyboardInterrupt:  # before the worker handles signals; as click says it
            print("\nAborted!", file=sys.stderr)
            code = 1
        sys.exit(code)
    from adapter.commands import main as command_line

    command_line()


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """``adapter.cli.app``, as before the command line had a module of its own."""
        if name == "app":
            from adapter.commands import app

            return app
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    main()
