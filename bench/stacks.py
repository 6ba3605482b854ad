"""Where the time goes, from a py-spy ``--format raw`` profile (collapsed stacks).

    .venv/bin/python -m bench.stacks bench/results/py-spy-snapshot-10.txt [--top 30]

Prints the share of samples in which each function is on the stack (inclusive) and at
the top of it (self), functions named ``name (file)`` with the line numbers dropped, and
a coarse split by library: the store (SQLAlchemy, aiosqlite), the POS client (aiohttp, httpx),
AMQP (aio-pika, aiormq, pamqp), pydantic, and the rest.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^:)]*)(?::\d+)?\)$")

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("store (SQLAlchemy, aiosqlite)", ("sqlalchemy/", "aiosqlite/", "adapter/store/")),
    ("POS client (aiohttp, httpx)", ("aiohttp/", "httpx/", "httpcore/", "pos_drivers/")),
    ("AMQP (aio-pika, aiormq)", ("aio_pika/", "aiormq/", "pamqp/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
)


def frame_name(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame or "(unknown)"
    path = match["file"]
    for marker in ("site-packages/", "/work/main/"):
        path = path.split(marker)[-1]
    return f"{match['name']} ({path})"


def layer_of(stack: str) -> str:
    """The first layer (in ``LAYERS`` order) that appears anywhere on the stack."""
    for name, markers in LAYERS:
        if any(marker in stack for marker in markers):
            return name
    return "rest (handlers, asyncio, uvloop, ...)"


def summarize(path: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame_name(frame) for frame in stack.split(";")]
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
        layers[layer_of(stack)] += count
    if not total:
        return f"{path}: no samples"

    def block(title: str, counter: Counter[str], limit: int) -> list[str]:
        return [title, *(f"{100 * n / total:5.1f}%  {name}" for name, n in
                         counter.most_common(limit))]

    lines = [f"{path}: {total} samples", ""]
    lines += block("by layer (first match on the stack):", layers, len(LAYERS) + 1)
    lines += ["", *block("inclusive:", inclusive, top), "", *block("self:", own, top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stacks",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("profile", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    print("\n\n".join(summarize(path, args.top) for path in args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
