"""A POS line's contract line is remembered while anything holds it: reading a check
again converts its lines again, and an unchanged line then costs no validation."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from handlers._snapshots import _unchanged_start, same_lines, to_line, to_snapshot
from pos_drivers import PosCheck, PosLine
from pos_drivers._models import LineStatus
from schemas import LineOrigin, Snapshot

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


def _check(*lines: PosLine, order_id: str | None = "ord-1") -> PosCheck:
    return PosCheck(table_id="T1", table_name="Mesa 1", order_id=order_id, currency="PEN",
                    lines=lines, discounts=(), version=None)


def test_a_snapshot_is_what_the_model_would_validate() -> None:
    """Its lines join it unvalidated: the whole must still be a valid snapshot."""
    check = _check(LINE, replace(LINE, line_id="ln-2", quantity=3))
    snapshot = to_snapshot(check, pos_table_id="T1", own_lines={"ln-2": "oa-2"}, version=4,
                           captured_at=datetime.now(UTC))

    assert Snapshot.model_validate_json(snapshot.model_dump_json()) == snapshot
    assert [line.pos_line_id for line in snapshot.lines] == ["ln-1", "ln-2"]
    assert snapshot.lines[1].open_app_line_id == "oa-2"
    assert snapshot.totals.subtotal == 4 * 3500


def test_a_check_that_repeats_a_line_id_is_refused() -> None:
    with pytest.raises(ValueError, match="repeats a line id"):
        to_snapshot(_check(LINE, replace(LINE, quantity=2)), pos_table_id="T1", own_lines={},
                    version=0, captured_at=datetime.now(UTC))


def _snapshot_of(check: PosCheck, start: Snapshot | None = None) -> Snapshot:
    return to_snapshot(check, pos_table_id="T1", own_lines={"ln-3": "oa-3"}, version=0,
                       captured_at=NOW, start=start)


NOW = datetime.now(UTC)
FIRST = (LINE, replace(LINE, line_id="ln-2", status=LineStatus.CANCELLED))
ADDED = replace(LINE, line_id="ln-3", quantity=2)


def test_a_check_with_lines_added_keeps_the_baselines_lines() -> None:
    baseline = _snapshot_of(_check(*FIRST))
    grown = _check(*FIRST, ADDED)

    start = _unchanged_start(baseline, grown)
    read = _snapshot_of(grown, start)

    assert start is baseline
    assert read == _snapshot_of(grown)  # what a read from nothing makes
    assert all(a is b for a, b in zip(read.lines, baseline.lines, strict=False))
    assert read.totals.subtotal == 3500 + 2 * 3500  # the cancelled line counts nothing
    assert read.lines[2].open_app_line_id == "oa-3"


@pytest.mark.parametrize("changed", [
    _check(replace(LINE, quantity=5), FIRST[1], ADDED),  # a line of the baseline changed
    _check(FIRST[1], ADDED),  # one was removed
    _check(ADDED, *FIRST),  # the new line came first
    _check(*FIRST, ADDED, order_id="ord-2"),  # another check
])
def test_a_check_that_is_not_the_baseline_plus_lines_is_read_whole(changed: PosCheck) -> None:
    baseline = _snapshot_of(_check(*FIRST))

    assert _unchanged_start(baseline, changed) is None


def test_a_copy_with_the_same_lines_keeps_what_is_known_of_them() -> None:
    baseline = _snapshot_of(_check(*FIRST))
    copy = baseline.model_copy(update={"version": 9})
    grown = _check(*FIRST, ADDED)

    assert _unchanged_start(copy, grown) is None  # nothing known of the copy yet
    same_lines(copy, baseline)
    assert _unchanged_start(copy, grown) is copy
