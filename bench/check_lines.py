"""A check read again: the adapter's work per line on a check its stream already holds.

    .venv/bin/python -m bench.check_lines [--tables 20] [--lines 60] [--repeat 100]
                                          [--rounds 5] [--json out.json]

In this process, no broker, no POS: ``--tables`` checks of ``--lines`` lines each as the
mock POS answers them (JSON bytes), and for each a stream whose baseline is that same
check, kept alive as a stream's baseline is (the submission benchmark's twenty tables
reach some 90 lines each). Each step below runs over every table in turn, ``--repeat``
times per round; the median round's time per check is shown, in microseconds:

- ``answer JSON``: the answer's bytes to Python (``PosResponse.json``);
- ``driver check``: the mock driver's ``PosCheck`` of it (``pos_drivers.mock._driver``);
- ``answer JSON and driver check, one line added, from the last answer``: the two
  above for the answer with one line more, parsed from where the table's last answer
  left off (``pos_drivers.mock._answers``), as a submission's add is answered;
- ``contract snapshot``: the contract's ``Snapshot`` of that check (``to_snapshot``);
- ``contract snapshot, one line added``: the same, of the check with a line more, from
  the baseline it begins with (as a submission's catch-up reads it);
- ``diff``: the changes from the baseline to that snapshot (none: ``diff_snapshots``);
- ``stream row JSON``: the baseline as the stream's row stores it (``snapshot_json``).

Every read of a table (a snapshot request, the watcher, a submission's catch-up) does the
first four; a commit that moves a stream does the last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._support import command_line, facts_lines, machine_facts, markdown_table, run_and_report
from handlers._snapshots import to_snapshot
from handlers._streams import own_line_ids
from handlers.diff import diff_snapshots
from pos_drivers import PosCheck
from pos_drivers._http_response import PosResponse
from pos_drivers.mock._answers import CheckAnswers
from pos_drivers.mock._driver import _check, _line
from schemas import Snapshot, snapshot_json

NOW = datetime.now(UTC)


def answer_body(table: int, lines: int) -> bytes:
    """The mock's answer for a check of ``lines`` lines, each one of our submissions',
    laid out as the mock lays it out."""
    return json.dumps({
        "orderId": f"ord-{table}", "tableId": f"T{table}", "status": "OPEN", "currency": "PEN",
        "lines": [{"lineId": f"ln-{table}-{n}", "productId": "inca-kola", "name": "Inca Kola",
                   "quantity": 1, "unitPrice": 700, "status": "PENDING", "notes": None,
                   "modifiers": [], "createdBy": "INTEGRATION",
                   "externalRef": f"sub-{table}-{n:032x}:oa-line-1"}
                  for n in range(lines)],
        "discounts": [], "updatedAt": f"2026-11-30T12:00:00.{lines:06d}Z",
    }, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Table:
    """One table's answer, and its stream's baseline (kept alive, as a stream keeps it)."""

    response: PosResponse
    order: Any
    check: PosCheck
    own: dict[str, str]
    baseline: Snapshot
    current: Snapshot
    ours: frozenset[str]
    grown: PosCheck
    answers: CheckAnswers
    last_answer: Any
    grown_body: bytes


def table(number: int, lines: int) -> Table:
    response = PosResponse(200, "OK", {"Content-Type": "application/json"},
                           answer_body(number, lines))
    order = response.json()
    check = _driver_check(order)
    own = {line.line_id: "oa-line-1" for line in check.lines}
    baseline = _snapshot(check, own)
    current = _snapshot(_driver_check(response.json()), own)
    grown = replace(check, lines=(*check.lines, replace(check.lines[-1], line_id="ln-new")))
    answers = CheckAnswers(_line)
    answers.parse(check.table_id, response.content)
    return Table(response, order, check, own, baseline, current, own_line_ids(current), grown,
                 answers, answers._last[check.table_id], answer_body(number, lines + 1))


def _driver_check(order: Any) -> PosCheck:
    lines = tuple(map(_line, order["lines"]))
    return _check(order, lines, order["tableId"], "Mesa", "PEN")


def _from_last_answer(t: Table) -> object:
    """A submission's add answered: the check with one line more, from the last answer."""
    t.answers._last[t.check.table_id] = t.last_answer  # as it was before this add
    return t.answers.parse(t.check.table_id, t.grown_body)


def _snapshot(check: PosCheck, own: dict[str, str]) -> Snapshot:
    return to_snapshot(check, pos_table_id=check.table_id, own_lines=own, version=0,
                       captured_at=NOW)


STEPS: list[tuple[str, Callable[[Table], object]]] = [
    ("answer JSON", lambda t: t.response.json()),
    ("driver check", lambda t: _driver_check(t.order)),
    ("answer JSON and driver check, one line added, from the last answer", _from_last_answer),
    ("contract snapshot", lambda t: _snapshot(t.check, t.own)),
    ("contract snapshot, one line added", lambda t: to_snapshot(
        t.grown, pos_table_id=t.check.table_id, own_lines=t.own, version=0, captured_at=NOW,
        start=t.baseline)),
    ("diff", lambda t: diff_snapshots(t.baseline, t.current, t.ours)),
    ("stream row JSON", lambda t: snapshot_json(t.baseline)),
]


def timed(step: Callable[[Table], object], tables: Sequence[Table], repeat: int) -> float:
    """µs per call, the tables taken in turn (as the submission benchmark reads them)."""
    started = time.perf_counter()
    for _ in range(repeat):
        for each in tables:
            step(each)
    return (time.perf_counter() - started) / (repeat * len(tables)) * 1e6


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    tables = [table(n, args.lines) for n in range(1, args.tables + 1)]
    rounds: dict[str, list[float]] = {name: [] for name, _ in STEPS}
    for _ in range(args.rounds):
        for name, step in STEPS:
            rounds[name].append(timed(step, tables, args.repeat))
    return {"facts": await machine_facts(None), "rounds": rounds, "lines": args.lines,
            "tables": args.tables}


def report(result: dict[str, Any]) -> str:
    rows = [(name, statistics.median(times), min(times))
            for name, times in result["rounds"].items()]
    return "\n".join([
        f"`{command_line('bench.check_lines')}`", "",
        markdown_table([f"step ({result['tables']} checks of {result['lines']} lines)",
                        "µs per check, median round", "best round"], rows),
        "", "Machine:", *facts_lines(result["facts"]),
    ])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    def document(result: dict[str, Any]) -> dict[str, Any]:
        return {"commandLine": command_line("bench.check_lines"), **result}

    return run_and_report(bench(args), report, document, args.json)


if __name__ == "__main__":
    sys.exit(main())
