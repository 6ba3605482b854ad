"""The recognition markers round-trip whatever the identifiers and notes contain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pos_drivers.restai._markers import (
    NOTES_LIMIT,
    common_prefix,
    mark_submission,
    order_prefix,
    read_line,
    utf16_len,
)

ids = st.text(min_size=1, max_size=128)
notes = st.one_of(st.none(), st.text(max_size=500))


@given(
    submission=ids,
    line_ids=st.lists(ids, min_size=1, max_size=20, unique=True),
    diner=st.lists(notes, min_size=20, max_size=20),
)
def test_references_round_trip(
    submission: str, line_ids: list[str], diner: list[str | None]
) -> None:
    refs = [f"{submission}:{lid}" for lid in line_ids]
    marks = mark_submission(refs, diner[: len(refs)])
    prefix = order_prefix(marks.order_notes)
    assert prefix is not None
    assert utf16_len(marks.order_notes) <= NOTES_LIMIT
    for ref, written, original in zip(refs, marks.line_notes, diner, strict=False):
        assert written is not None
        assert utf16_len(written) <= NOTES_LIMIT
        read = read_line(written)
        assert read.rest is not None
        assert prefix + read.rest == ref
        tag = utf16_len(written) - (utf16_len(read.notes) + 1 if read.notes else 0)
        if not original:
            assert read.notes is None
        elif utf16_len(original) + 1 + tag <= NOTES_LIMIT:
            assert read.notes == original
        else:
            assert read.notes is None or read.notes.endswith("…")


@given(diner=st.text(min_size=1, max_size=500))
def test_short_notes_are_kept_exactly(diner: str) -> None:
    marks = mark_submission(["sub-1:line-1"], [diner])
    written = marks.line_notes[0]
    assert written is not None
    read = read_line(written)
    if utf16_len(diner) + len(" [oa:line-1]") <= NOTES_LIMIT:
        assert read.notes == diner
    else:
        assert read.notes is not None
        assert read.notes.endswith("…")
        assert utf16_len(written) <= NOTES_LIMIT


def test_prefix_is_cut_after_the_last_shared_colon() -> None:
    assert common_prefix(["s-1:a", "s-1:b"]) == "s-1:"
    assert common_prefix(["s-1:a:b"]) == "s-1:a:"
    assert common_prefix(["x", "y"]) == ""


def test_unmarked_or_forged_notes_are_plain_notes() -> None:
    assert read_line("sin cebolla").notes == "sin cebolla"
    assert read_line("sin cebolla").rest is None
    assert read_line("x[oa:1]").rest is None  # a marker always follows a space
    assert read_line(None).notes is None
    assert order_prefix("para llevar") is None
    assert order_prefix(None) is None


def test_lines_without_reference_keep_their_notes() -> None:
    marks = mark_submission([None, "s:1"], ["sin ají", None])
    assert marks.line_notes == ("sin ají", "[oa:1]")
    assert marks.order_notes == "OpenApp [openapp:s:]"
