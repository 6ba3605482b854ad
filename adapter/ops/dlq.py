"""``pos-adapter dlq``: the location's dead-letter queue, seen and repaired without losing
anything: the commands and how they print (tables on a terminal, ``--json`` for scripts).

How the queue is read without consuming it, replayed and purged is
``adapter.ops.dead_letters``. ``list``, ``show`` and ``dump`` leave the queue exactly as
it was; ``replay`` and ``purge`` only print their plan unless ``--execute`` is given, the
way Kafka's offset reset does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import aiormq
import typer
from rich import box
from rich.console import Console
from rich.json import JSON
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from adapter.commandline import LocationOption, run_async, settings_or_exit
from adapter.ops.dead_letters import (
    DeadLetterQueue,
    DlqError,
    JsonValue,
    Letter,
    ReplayItem,
    ReplayReport,
    find,
    json_safe,
    purge,
    read_all,
    replay,
)
from adapter.settings import Settings

app = typer.Typer(
    help="The dead-letter queue: list, show, dump, replay, purge.",
    no_args_is_help=True,
)

REASON_WIDTH = 60
"""``list`` cuts a longer reason (``show`` and ``--json`` give it whole), as ``docker ps``
cuts a command."""

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _run(operation: Coroutine[Any, Any, T]) -> T:
    """Run it on the CLI's event loop; a failure is one line on stderr and exit code 1."""
    try:
        return run_async(operation)
    except BrokenPipeError:  # `dlq dump | head`: stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        raise typer.Exit(1) from None
    except DlqError as exc:
        problem = str(exc)
    except (aiormq.exceptions.AMQPError, ConnectionError) as exc:
        problem = f"the broker failed us ({type(exc).__name__}: {exc}); nothing was lost"
    _stderr().print(f"pos-adapter dlq: {escape(problem)}", soft_wrap=True)
    raise typer.Exit(1)


def _stdout() -> Console:
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _warn(text: str) -> None:
    """What went wrong without failing, in yellow on stderr (stdout stays parseable)."""
    _stderr().print(f"[yellow]warning[/yellow]: {escape(text)}", soft_wrap=True)


def _print_json(value: JsonValue) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _warn_if_short(queue: DeadLetterQueue) -> None:
    if queue.other_consumers:
        _warn(f"{queue.other_consumers} other consumers are attached to {queue.name} "
              "(another dlq command?): messages they hold were not seen")
    if not queue.complete:
        _warn(f"read {queue.read} of the {queue.total} messages of {queue.name}: it changed "
              "while reading")


def _stamp(letter: Letter) -> str:
    moment = letter.timestamp
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _clip(text: str, width: int = REASON_WIDTH) -> str:
    """One line of at most ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(title: str, *columns: str) -> Table:
    """Columns the way ``kubectl get`` prints them: no frame, nothing wrapped or cut."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in columns:
        table.add_column(name, no_wrap=True, justify="right" if name in ("#", "size") else "left")
    return table


def _print_table(console: Console, table: Table) -> None:
    """Wider than the console rather than cut: a messageId is copied from here."""
    natural = Measurement.get(console, console.options.update(max_width=10_000), table)
    if natural.maximum > console.width:
        console = Console(file=console.file, width=natural.maximum, highlight=False)
    console.print(table)


def _letters_table(title: str, letters: Sequence[Letter]) -> Table:
    table = _table(title, "#", "messageId", "type", "reason", "size", "timestamp (UTC)")
    for letter in letters:
        table.add_row(*(escape(cell) for cell in (
            str(letter.position), letter.message_id or "", letter.message_type or "",
            _clip(letter.reason or ""), str(len(letter.body)), _stamp(letter))))
    return table


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=0, help="Show at most N messages (0: all).")] = 100,
    as_json: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """One row per message, head first; the queue is left exactly as it was."""
    settings = settings_or_exit(location)
    letters, queue = _run(read_all(settings, warn=_warn))
    shown = letters[:limit] if limit else letters
    if as_json:
        _print_json({"queue": queue.name, "total": queue.total,
                     "messages": [letter.summary() for letter in shown]})
    elif not letters:
        _stdout().print(f"{queue.name} is empty.")
    else:
        console = _stdout()
        _print_table(console, _letters_table(f"{queue.name}: {queue.total} messages", shown))
        if len(shown) < len(letters):
            console.print(f"showing the first {len(shown)}; --limit 0 shows all")
    _warn_if_short(queue)


@app.command()
def show(
    target: Annotated[str, typer.Argument(help="A position (1 is the head) or a messageId.")],
    as_json: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """One message: its properties, headers and body; the queue is left as it was."""
    settings = settings_or_exit(location)
    letters, queue = _run(read_all(settings, warn=_warn))
    letter = find(letters, target)
    if letter is None:
        _stderr().print(f"pos-adapter dlq: no message at position or with messageId "
                        f"{escape(target)} in {queue.name} ({queue.read} messages)")
        raise typer.Exit(1)
    _warn_if_short(queue)
    if as_json:
        record = letter.record()
        if letter.envelope is not None:
            record["body_json"] = json_safe(letter.envelope)
        _print_json(record)
    else:
        _show(_stdout(), letter, queue)


def _show(console: Console, letter: Letter, queue: DeadLetterQueue) -> None:
    console.print(f"[bold]message {letter.position} of {queue.total}[/bold] in {queue.name}")
    properties = letter.properties()
    headers = properties.pop("headers")
    table = Table("property", "value", title="properties", title_justify="left")
    for name, value in properties.items():
        if value is not None:
            table.add_row(name, escape(str(value)))
    console.print(table)
    table = Table("header", "value", title="headers", title_justify="left")
    for name, value in (headers if isinstance(headers, dict) else {}).items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(escape(name), escape(shown))
    console.print(table)
    console.print(f"[bold]body[/bold] ({len(letter.body)} bytes)")
    if letter.envelope is not None:
        console.print(JSON.from_data(letter.envelope, ensure_ascii=False))
    else:
        console.print(repr(letter.body), markup=False, soft_wrap=True)


@app.command()
def dump(
    out: Annotated[str, typer.Option("--out", help="File to write, or - for stdout.")] = "-",
    location: LocationOption = None,
) -> None:
    """Every message as a JSON line; the queue is left as it was.

    Each line: position, properties (all AMQP properties, headers included), body_base64,
    and body_text when the body is UTF-8. A file is written under a .partial name and
    renamed when complete, so a dump cut short is never mistaken for a whole one.
    """
    settings = settings_or_exit(location)
    queue = _run(_dump(settings, out))
    where = "stdout" if out == "-" else out
    _stderr().print(f"dumped {queue.read} messages of {queue.name} to {escape(where)}; "
                    "the queue is unchanged", soft_wrap=True)
    _warn_if_short(queue)


async def _dump(settings: Settings, out: str) -> DeadLetterQueue:
    if out == "-":
        return await _write_lines(settings, typer.get_text_stream("stdout"))
    path = Path(out)
    partial = path.with_name(path.name + ".partial")
    try:
        stream = partial.open("w", encoding="utf-8")
    except OSError as exc:
        raise DlqError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with stream:
            queue = await _write_lines(settings, stream)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return queue


async def _write_lines(settings: Settings, stream: IO[str]) -> DeadLetterQueue:
    async with DeadLetterQueue(settings, warn=_warn) as queue:
        async for letter in queue.letters():
            stream.write(json.dumps(letter.record(), ensure_ascii=False) + "\n")
    stream.flush()
    return queue


@app.command("replay")
def replay_command(
    message_id: Annotated[list[str] | None, typer.Option(
        "--message-id", help="A messageId to replay (repeatable).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every message.")] = False,
    execute: Annotated[bool, typer.Option(
        "--execute", help="Do it; without this, only print the plan.")] = False,
    rate: Annotated[float | None, typer.Option(
        help="At most N messages per second.")] = None,
    as_json: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """Put dead-lettered commands back on the command exchange; without --execute, the plan.

    Routing key <location>.<messageType>; body and properties as they were, messageId kept,
    the dead-lettering headers dropped. Each message leaves the dead-letter queue only once
    the broker has confirmed its copy.
    """
    ids = list(message_id or [])
    if all_ == bool(ids):
        raise typer.BadParameter("say which messages: --message-id ID (repeatable) or --all")
    if rate is not None and rate <= 0:
        raise typer.BadParameter("must be positive", param_hint="--rate")
    settings = settings_or_exit(location)
    with _progress_bar(execute) as progress:
        report = _run(replay(settings, message_ids=ids, execute=execute, rate=rate,
                             progress=progress, warn=_warn))
    if as_json:
        _print_json(report.as_json())
    else:
        _print_replay(_stdout(), report)
    if report.source is not None:
        _warn_if_short(report.source)
    if report.failed or report.not_found:
        raise typer.Exit(1)


class _ProgressBar:
    """A replay's progress as a rich bar (``dead_letters.ReplayProgress``)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def start(self, total: int) -> None:
        self._task = self._progress.add_task("replaying", total=total)

    def advance(self) -> None:
        if self._task is not None:
            self._progress.advance(self._task)


@contextmanager
def _progress_bar(execute: bool) -> Iterator[_ProgressBar | None]:
    """A progress bar on a terminal's stderr while executing; nothing otherwise."""
    console = _stderr()
    if not execute or not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        yield _ProgressBar(progress)


def _print_replay(console: Console, report: ReplayReport) -> None:
    if report.items:
        table = _table(f"{report.queue}: {len(report.items)} of {report.total} messages "
                       "selected", "#", "messageId", "type",
                       "outcome" if report.execute else "plan")
        for item in report.items:
            table.add_row(*(escape(cell) for cell in (
                str(item.letter.position), item.letter.message_id or "",
                item.letter.message_type or "", _replay_cell(item, report))))
        _print_table(console, table)
    if report.not_found:
        console.print("not in the queue: " + escape(", ".join(report.not_found)))
    skipped = len(report.items) - report.to_replay
    if not report.execute:
        console.print(f"Plan: replay {report.to_replay} messages to exchange "
                      f"{report.exchange}, skip {skipped}. Nothing was changed: run again "
                      "with --execute to do it.", soft_wrap=True)
        return
    stopped = " Stopped at the first failure: the rest stay where they were."
    console.print(f"Replayed {report.replayed} of {report.to_replay} messages to "
                  f"{report.exchange} (each left {report.queue} once the broker confirmed "
                  f"its copy); skipped {skipped}." + (stopped if report.failed else ""),
                  soft_wrap=True)


def _replay_cell(item: ReplayItem, report: ReplayReport) -> str:
    if item.skip is not None:
        return f"skip: {item.skip}"
    where = f"{report.exchange} / {item.routing_key}"
    if item.outcome == "planned":
        return f"replay to {where}"
    if item.outcome == "failed":
        return f"failed: {item.error}"
    if item.outcome == "not-tried":
        return "not tried (stopped after a failure)"
    return f"replayed to {where}"


@app.command("purge")
def purge_command(
    execute: Annotated[bool, typer.Option(
        "--execute", help="Do it; without this, only print the plan.")] = False,
    as_json: JsonOption = False,
    location: LocationOption = None,
) -> None:
    """Delete every message of the dead-letter queue; without --execute, the plan."""
    settings = settings_or_exit(location)
    report = _run(purge(settings, execute=execute))
    if report.other_consumers:
        _warn(f"{report.other_consumers} consumers are attached to {report.queue}: a purge "
              "leaves the messages they hold")
    if as_json:
        _print_json({"queue": report.queue, "execute": report.execute,
                     "deleted" if report.execute else "messages": report.messages})
    elif report.execute:
        _stdout().print(f"Deleted {report.messages} messages from {report.queue}.")
    else:
        _stdout().print(
            f"Plan: delete the {report.messages} messages of {report.queue}. Nothing was "
            "changed: run again with --execute to do it (`pos-adapter dlq dump --out FILE` "
            "keeps a copy first).", soft_wrap=True)
