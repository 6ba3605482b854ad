"""A snapshot as a stream's row stores it (``snapshot_json``), and the per-object memo
behind it (``ByIdentity``)."""

from __future__ import annotations

import gc
import json

from hypothesis import given
from hypothesis import strategies as st

from schemas import ByIdentity, Snapshot, grown_lines_json, same_lines_json, snapshot_json
from tests.schemas.strategies import snapshots


@given(snapshots())
def test_the_stored_json_is_the_snapshots_json(snapshot: Snapshot) -> None:
    stored = snapshot_json(snapshot)
    assert json.loads(stored) == json.loads(snapshot.model_dump_json())
    assert Snapshot.model_validate_json(stored) == snapshot


@given(snapshots())
def test_a_line_shared_by_two_snapshots_reads_back_in_each(snapshot: Snapshot) -> None:
    """The second snapshot reuses the first's lines (as a stream's next baseline does),
    in another order and without one of them."""
    moved = snapshot.model_copy(update={"lines": snapshot.lines[::-1][1:], "version": 7})
    snapshot_json(snapshot)
    assert Snapshot.model_validate_json(snapshot_json(moved)) == moved


@given(snapshots(), st.integers(min_value=0, max_value=5), st.booleans())
def test_a_snapshot_grown_from_another_is_stored_as_itself(
    snapshot: Snapshot, cut: int, start_written: bool
) -> None:
    """Made of another's lines and more (a catch-up), then copied (the new baseline):
    its JSON starts from the other's when that was written, and is the same either way."""
    start = snapshot.model_copy(update={"lines": snapshot.lines[:cut]})
    if start_written:
        snapshot_json(start)
    grown_lines_json(snapshot, start)
    copy = snapshot.model_copy(update={"version": snapshot.version + 1})
    same_lines_json(copy, snapshot)

    for each in (snapshot, copy):
        assert json.loads(snapshot_json(each)) == json.loads(each.model_dump_json())


class Box:
    """Weak-referenceable and counted."""

    def __init__(self, value: int) -> None:
        self.value = value


def test_a_value_is_computed_once_per_live_object() -> None:
    calls: list[int] = []

    def compute(box: Box) -> int:
        calls.append(box.value)
        return box.value * 10

    memo = ByIdentity(compute)
    first, second = Box(1), Box(2)
    assert [memo(first), memo(second), memo(first)] == [10, 20, 10]
    assert memo.many([Box(3), second, Box(4), first, Box(5)]) == [30, 20, 40, 10, 50]
    assert calls == [1, 2, 3, 4, 5]


def test_an_entry_goes_with_its_object() -> None:
    memo: ByIdentity[Box, int] = ByIdentity(lambda box: box.value)
    kept = Box(1)
    memo(kept)
    memo(Box(2))  # gone once the call returns
    gc.collect()
    assert len(memo) == 1
    del kept
    gc.collect()
    assert len(memo) == 0


def test_an_object_made_after_another_died_is_computed_afresh() -> None:
    """CPython reuses a dead object's id at once: the entry must be gone by then."""
    memo: ByIdentity[Box, int] = ByIdentity(lambda box: box.value)
    for value in range(200):
        assert memo(Box(value)) == value
