"""What a worker does not load: each stays resident for the worker's life once imported
(``bench.startup`` measures the memory; bench/README.md, "Memory at start")."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from adapter.store._migrate import HEAD

NEVER_IN_A_WORKER = (
    "typer", "click", "rich", "pygments",  # the command line
    "adapter.commands", "adapter.commandline", "adapter.ops",
    "uvicorn", "starlette", "sse_starlette", "jwt",  # the POS imitations' servers
    "sqlalchemy.dialects.postgresql", "asyncpg",  # on a SQLite store
    "alembic",  # a worker migrates a store in a child process (tests/store/test_migrate.py)
    "sqlalchemy.orm",  # the store is SQLAlchemy Core (adapter.store._asyncio)
)


def loaded_of(code: str, *, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """The exit code of ``python -c code``, and which of ``NEVER_IN_A_WORKER`` it had
    loaded when it exited."""
    report = (
        "import atexit, json, sys\n"
        f"watched = {NEVER_IN_A_WORKER!r}\n"
        "atexit.register(lambda: print(json.dumps(sorted(\n"
        "    w for w in watched if any(m == w or m.startswith(w + '.') for m in sys.modules)))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", report + code], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return done.returncode, loaded


def with_a_store(path: Path, imports: str = "", body: str = "pass") -> str:
    """Code that starts a SQLite store at ``path`` (a worker's: migrated in a child
    process), runs ``body`` with ``store`` and ``url`` at hand, and closes the store."""
    url = f"sqlite+aiosqlite:///{path}"
    indented = "".join(f"        {line}\n" for line in body.splitlines())
    return (
        "import asyncio\n"
        "from adapter.store import SqlStore\n"
        f"{imports}"
        "async def main():\n"
        f"    url = {url!r}\n"
        "    store = SqlStore(url, migrate_apart=True)\n"
        "    await store.start()\n"
        "    try:\n"
        f"{indented}"
        "    finally:\n"
        "        await store.close()\n"
        "asyncio.run(main())\n"
    )


def test_the_worker_and_the_mock_driver_load_no_command_line_server_or_other_dialect() -> None:
    code, loaded = loaded_of(
        "import adapter.cli, adapter.run, adapter.worker\n"
        "from adapter.drivers import driver_class\n"
        "driver_class('mock')\n"
    )

    assert code == 0
    assert loaded == []


def test_pos_adapter_run_goes_to_the_worker_without_the_command_line() -> None:
    code, loaded = loaded_of(
        "import sys\n"
        "sys.argv = ['pos-adapter', 'run']\n"
        "from adapter.cli import main\n"
        "main()\n",
        env={"POS_ADAPTER_STORE_URL": "mysql://x"},  # refused before anything is opened
    )

    assert code == 2
    assert loaded == []


def test_a_worker_migrates_a_fresh_store_without_loading_alembic(tmp_path: Path) -> None:
    code, loaded = loaded_of(with_a_store(tmp_path / "fresh.db"))

    assert code == 0
    assert loaded == []
    with sqlite3.connect(tmp_path / "fresh.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


def test_a_store_writes_and_reads_without_the_orm(tmp_path: Path) -> None:
    code, loaded = loaded_of(with_a_store(
        tmp_path / "store.db",
        "from adapter.store import MessageQuery, StoreReader\n"
        "from handlers import WriteSet\n"
        "from tests.store.test_store import inbox, message, stream\n",
        "await store.commit(WriteSet(inbox=inbox(1, message(1)), streams=[stream()],\n"
        "                            outbox=[message(1)]))\n"
        "assert (await store.inbox_entry('cmd-1')) is not None\n"
        "assert (await store.active_stream('loc', 'T1')) is not None\n"
        "assert len(await store.outbox_from(None)) == 1\n"
        "async with StoreReader(url) as reader:\n"
        "    assert len(await reader.messages(MessageQuery())) == 1\n",
    ))

    assert code == 0
    assert "sqlalchemy.orm" not in loaded  # (pytest, with the test's helpers, brings pygments)


def test_the_orm_is_still_there_for_whoever_asks_for_it() -> None:
    code = (
        "import sqlalchemy.ext.asyncio as package, sys\n"
        "print(sorted(n for n in vars(package) if not n.startswith('_')))\n"
    )
    whole = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60).stdout
    after_the_store = subprocess.run(
        [sys.executable, "-c", "import adapter.store\n"
         "from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker\n" + code],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout

    assert "AsyncSession" in whole
    assert after_the_store == whole
