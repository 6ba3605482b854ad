"""The mock POS state machine on its own: rules that HTTP tests cannot reach cheaply."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_drivers.mock import MockPosState
from pos_drivers.mock._state import (
    SEED_PRODUCTS,
    Change,
    LineRequest,
    MockPosError,
    Order,
    compact_json,
)

PRICES = {p[0]: p[2] for p in SEED_PRODUCTS}


def _waiter(state: MockPosState, table_id: str = "T1") -> None:
    state.add_waiter_lines(table_id, [LineRequest("causa", 1)])


def test_a_cursor_older_than_the_retained_window_is_gone() -> None:
    state = MockPosState(retained_changes=3)
    old = state.cursor
    _waiter(state)
    kept = state.cursor
    for _ in range(3):
        _waiter(state)

    with pytest.raises(MockPosError) as gone:
        state.changes(old)

    assert (gone.value.status, gone.value.code) == (410, "CURSOR_EXPIRED")
    assert state.changes(kept) == (
        [Change("T1", "ord-1", state.table("T1").updated_at)],
        state.cursor,
    )


def test_a_cursor_ahead_of_the_log_is_unknown() -> None:
    state = MockPosState()
    ahead = f"{state.instance_id}-5"

    with pytest.raises(MockPosError):
        state.changes(ahead)


def test_updated_at_strictly_increases_however_fast_changes_come() -> None:
    state = MockPosState()
    stamps: list[str] = []
    state.add_listener(lambda change: stamps.append(change.updated_at or "") if change else None)

    for n in range(200):
        _waiter(state, f"T{n % 20 + 1}")

    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 200


def test_listeners_hear_none_on_reset() -> None:
    state = MockPosState()
    heard: list[Change | None] = []
    state.add_listener(heard.append)

    _waiter(state)
    state.reset()
    state.remove_listener(heard.append)
    _waiter(state)

    assert heard == [Change("T1", "ord-1", heard[0].updated_at if heard[0] else None), None]


_lines = st.lists(
    st.builds(
        LineRequest,
        product_id=st.sampled_from([*PRICES, "tamales"]),
        quantity=st.integers(1, 8),
        unit_price=st.sampled_from([900, 1400, 1500, 2200, 2800, 3500]),
    ),
    min_size=1,
    max_size=6,
)


def _attempt(state: MockPosState, lines: list[LineRequest]) -> Order | MockPosError:
    try:
        return state.add_lines("T1", None, lines)
    except MockPosError as refused:
        return refused


def _snapshot(state: MockPosState) -> tuple[bytes, list[dict[str, object]], str]:
    return state.order_json("T1"), [p.to_json() for p in state.products()], state.cursor


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(_lines, min_size=1, max_size=6))
def test_add_lines_is_all_or_nothing(batches: list[list[LineRequest]]) -> None:
    state = MockPosState()
    for lines in batches:
        before = _snapshot(state)
        outcome = _attempt(state, lines)
        if isinstance(outcome, MockPosError):
            assert (outcome.status, outcome.code) == (422, "ITEMS_REJECTED")
            assert outcome.lines, "a refusal names the failing lines"
            assert _snapshot(state) == before
        else:
            assert all(line.unit_price == PRICES[line.product_id] for line in lines)
            added = outcome.lines[-len(lines) :]
            assert [x.product_id for x in added] == [x.product_id for x in lines]
        assert all(p.stock is None or p.stock >= 0 for p in state.products())


_notes = st.none() | st.text(max_size=12)
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("waiter"), st.integers(1, 3), _notes),
        st.tuples(st.just("status"), st.integers(0, 50),
                  st.sampled_from(["PREPARING", "READY", "DELIVERED", "CANCELLED"])),
        st.tuples(st.just("quantity"), st.integers(0, 50), st.integers(1, 9)),
        st.tuples(st.just("price"), st.integers(0, 50), st.integers(0, 5000)),
        st.tuples(st.just("notes"), st.integers(0, 50), _notes),
        st.tuples(st.just("delete"), st.integers(0, 50), st.none()),
        st.tuples(st.just("discount"), st.integers(1, 900), _notes),
        st.tuples(st.just("close"), st.none(), st.none()),
    ),
    max_size=40,
)


def _apply(state: MockPosState, operation: tuple[str, Any, Any]) -> None:
    kind, first, second = operation
    order = state.table("T1").open
    if kind == "waiter":
        state.add_waiter_lines("T1", [LineRequest("causa", first, notes=second)])
    elif kind == "discount" and order is not None:
        state.add_discount("T1", second or "promo", first, None)
    elif kind == "close" and order is not None:
        state.close_table("T1")
    elif order is not None and order.lines:
        line_id = order.lines[first % len(order.lines)].line_id
        if kind == "delete":
            state.delete_line(line_id)
        else:
            field = {"status": "status", "quantity": "quantity", "price": "unit_price",
                     "notes": "notes"}[kind]
            state.patch_line(line_id, **{field: second})


@settings(max_examples=150, deadline=None)
@given(operations=_operations)
def test_a_check_is_answered_as_its_whole_json_after_any_history(
    operations: list[tuple[str, Any, Any]],
) -> None:
    """The answer is put together from each line's JSON, encoded again only when the line
    changed: it must read, byte for byte, as the whole check encoded at once."""
    state = MockPosState()
    for operation in operations:
        _apply(state, operation)
        order = state.table("T1").open
        if order is not None:
            assert state.order_json("T1") == compact_json(order.to_json()).encode()
            assert order.encoded() == compact_json(order.to_json())
