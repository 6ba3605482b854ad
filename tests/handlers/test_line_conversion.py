"""A POS line's contract line is remembered while anything holds it: reading a check
again converts its lines again, and an unchanged line then costs no validation."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace

from handlers._snapshots import to_line
from pos_drivers import PosLine
from pos_drivers._models import LineStatus
from schemas import LineOrigin

LINE = PosLine(line_id="ln-1", product_id="ceviche", name="Ceviche", quantity=1,
               unit_price=3500, status=LineStatus.PENDING)


def test_an_unchanged_line_is_converted_once() -> None:
    assert to_line(replace(LINE), None) is to_line(replace(LINE), None)


def test_a_changed_line_is_converted_anew() -> None:
    before = to_line(LINE, None)
    after = to_line(replace(LINE, quantity=2, status=LineStatus.READY), None)

    assert (before.quantity, before.total_price, before.status) == (1, 3500, "PENDING")
    assert (after.quantity, after.total_price, after.status) == (2, 7000, "READY")


def test_our_own_line_is_told_apart_from_the_same_line_of_the_pos() -> None:
    ours = to_line(LINE, "l1")

    assert (ours.origin, ours.open_app_line_id) == (LineOrigin.OPENAPP, "l1")
    assert to_line(LINE, None).origin is LineOrigin.POS


def test_lines_held_stay_remembered_however_many() -> None:
    """As many as the open checks hold (a bounded LRU forgot them all when tables
    outnumbered it, read round after round)."""
    held = [to_line(replace(LINE, line_id=f"ln-{n}"), None) for n in range(3000)]

    again = [to_line(replace(LINE, line_id=f"ln-{n}"), None) for n in range(3000)]

    assert all(first is second for first, second in zip(held, again, strict=True))


def test_a_line_nothing_holds_is_forgotten() -> None:
    line = weakref.ref(to_line(replace(LINE, line_id="ln-gone"), None))
    gc.collect()

    assert line() is None
