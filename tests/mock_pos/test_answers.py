"""A check's answer parsed from where the table's last answer left off: always what
parsing it whole gives, and only the new part parsed when the answer continues the last."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_drivers import PosLine
from pos_drivers.mock._answers import CheckAnswers
from pos_drivers.mock._driver import _parsed_line
from pos_drivers.mock._state import Discount, Line, Order, compact_json


class Counting:
    """A line parser that counts the lines it parsed."""

    def __init__(self) -> None:
        self.parsed = 0

    def __call__(self, raw: Mapping[str, Any]) -> PosLine:
        self.parsed += 1
        return _parsed_line(raw)


def line(n: int, *, status: str = "PENDING", notes: str | None = None) -> Line:
    return Line(f"ln-{n}", "inca-kola", "Inca Kola", 1, 700, "WAITER", status, notes,
                f"sub-{n}:oa-line-1")


def order(lines: list[Line], *, version: int = 0, discounts: int = 0) -> Order:
    return Order("ord-1", "T1", f"2026-12-01T10:00:00.{version:06d}Z", lines=lines,
                 discounts=[Discount(f"d-{n}", "Promo", 100) for n in range(discounts)])


def body(check: Order) -> bytes:
    """As the mock POS answers (``pos_drivers.mock._server``)."""
    return compact_json(check.to_json()).encode()


def whole(answer: bytes) -> tuple[dict[str, Any], tuple[PosLine, ...]]:
    fields = json.loads(answer)
    return fields, tuple(map(_parsed_line, fields["lines"]))


def assert_as_whole(got: tuple[Mapping[str, Any], tuple[PosLine, ...]], answer: bytes) -> None:
    fields, lines = whole(answer)
    assert got[1] == lines
    assert {k: v for k, v in got[0].items() if k != "lines"} == {
        k: v for k, v in fields.items() if k != "lines"
    }


def test_an_answer_with_a_line_more_parses_only_that_line() -> None:
    parser = Counting()
    answers = CheckAnswers(parser)
    first = answers.parse("T1", body(order([line(n) for n in range(40)])))
    parser.parsed = 0

    grown = body(order([line(n) for n in range(41)], version=1, discounts=1))
    got = answers.parse("T1", grown)

    assert parser.parsed == 1
    assert all(a is b for a, b in zip(got[1], first[1], strict=False))
    assert_as_whole(got, grown)


def test_the_same_answer_again_parses_no_line() -> None:
    parser = Counting()
    answers = CheckAnswers(parser)
    answer = body(order([line(n) for n in range(5)]))
    answers.parse("T1", answer)
    parser.parsed = 0

    assert_as_whole(answers.parse("T1", answer), answer)
    assert parser.parsed == 0


def test_a_changed_line_has_the_answer_parsed_whole() -> None:
    parser = Counting()
    answers = CheckAnswers(parser)
    answers.parse("T1", body(order([line(n) for n in range(5)])))
    parser.parsed = 0

    changed = body(order([line(0), line(1, status="READY"), *map(line, range(2, 5))]))
    assert_as_whole(answers.parse("T1", changed), changed)
    assert parser.parsed == 5


def test_an_answer_laid_out_otherwise_is_parsed_whole_each_time() -> None:
    parser = Counting()
    answers = CheckAnswers(parser)
    fields = order([line(n) for n in range(3)]).to_json()
    spaced = json.dumps(fields).encode()  # ", " and ": " between the fields
    reordered = compact_json({"lines": fields["lines"], **fields}).encode()
    for answer in (spaced, spaced, reordered, reordered):
        parser.parsed = 0
        assert_as_whole(answers.parse("T1", answer), answer)
        assert parser.parsed == 3


def test_a_continuation_that_is_no_json_fails_as_the_whole_parse_does() -> None:
    answers = CheckAnswers(_parsed_line)
    answer = body(order([line(0)]))
    answers.parse("T1", answer)
    broken = answer[: answer.rindex(b"]")] + b",{oops"
    with pytest.raises(json.JSONDecodeError):
        answers.parse("T1", broken)


def test_a_note_that_looks_like_the_layout_changes_nothing() -> None:
    answers = CheckAnswers(_parsed_line)
    tricky = line(1, notes='"],"discounts":[],"updatedAt":"x"}')
    first = body(order([line(0), tricky]))
    answers.parse("T1", first)
    grown = body(order([line(0), tricky, line(2)], version=1))
    assert_as_whole(answers.parse("T1", grown), grown)


def test_only_the_last_answers_of_so_many_tables_are_kept() -> None:
    parser = Counting()
    answers = CheckAnswers(parser, kept=2)
    answer = body(order([line(0)]))
    for table in ("T1", "T2", "T3"):
        answers.parse(table, answer)
    parser.parsed = 0
    answers.parse("T3", answer)
    answers.parse("T2", answer)
    assert parser.parsed == 0
    answers.parse("T1", answer)  # forgotten first
    assert parser.parsed == 1


statuses = st.sampled_from(["PENDING", "PREPARING", "READY", "DELIVERED", "CANCELLED"])
notes = st.none() | st.text(max_size=12)


@st.composite
def checks(draw: st.DrawFn) -> list[Order]:
    """A table's answers one after the other: lines added, changed, removed."""
    lines: list[Line] = []
    answers = []
    for version in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["add", "add", "change", "remove", "same"]))
        if action == "add" or not lines:
            start = len(lines) + version * 100
            lines += [line(start + n, notes=draw(notes))
                      for n in range(draw(st.integers(0, 3)))]
        elif action == "change":
            at = draw(st.integers(0, len(lines) - 1))
            lines[at] = line(int(lines[at].line_id[3:]), status=draw(statuses),
                             notes=draw(notes))
        elif action == "remove":
            del lines[draw(st.integers(0, len(lines) - 1))]
        answers.append(order(list(lines), version=version,
                             discounts=draw(st.integers(0, 2))))
    return answers


@given(checks())
def test_every_answer_reads_as_parsing_it_whole(answers: list[Order]) -> None:
    parsed = CheckAnswers(_parsed_line)
    for check in answers:
        answer = body(check)
        assert_as_whole(parsed.parse("T1", answer), answer)
