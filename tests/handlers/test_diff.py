"""The diff engine: examples that read like the contract, and properties over random tables.

The property tests start from a random baseline check (or none), apply a random sequence
of what happens at a restaurant table (waiter adds, quantity and price edits, kitchen
status moves, cancellations, deliveries, removals, discounts, closing, opening), and
compare the engine's changes with what the sequence did. A submission of the stream, when
there is one, comes first in the sequence: the adapter pushes a table's pending changes
before it submits, so within one diff the submission's lines precede later POS lines.
Each step is drawn among those that change the table as it then is, only scenarios whose
two reads differ are kept, and each property draws the scenarios it has something to say
about (a check left open, a submission's lines): no example passes by checking nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, auto

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.diff import Change, apply_changes, closed_snapshot, diff_snapshots
from schemas import (
    ChangeType,
    Discount,
    Line,
    LineOrigin,
    LineStatus,
    OrderStatus,
    Snapshot,
    compute_totals,
    line_total,
)

T0 = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
TABLE = "downtown-lima-15"


def make_line(
    pos_line_id: str,
    *,
    quantity: int = 1,
    unit_price: int = 1000,
    status: LineStatus = LineStatus.PENDING,
    origin: LineOrigin = LineOrigin.POS,
    notes: str | None = None,
) -> Line:
    return Line(
        pos_line_id=pos_line_id,
        product_id=f"product-{pos_line_id}",
        name=f"Dish {pos_line_id}",
        quantity=quantity,
        unit_price=unit_price,
        total_price=line_total(quantity, unit_price),
        status=status,
        origin=origin,
        open_app_line_id=f"oa-{pos_line_id}" if origin is LineOrigin.OPENAPP else None,
        notes=notes,
    )


def make_snapshot(
    pos_order_id: str | None,
    lines: tuple[Line, ...] = (),
    discounts: tuple[Discount, ...] = (),
    *,
    version: int = 0,
    captured_at: datetime = T0,
) -> Snapshot:
    return Snapshot(
        pos_table_id=TABLE,
        table_name="Mesa 15",
        pos_order_id=pos_order_id,
        order_status=OrderStatus.NONE if pos_order_id is None else OrderStatus.OPEN,
        currency="PEN",
        lines=lines,
        discounts=discounts,
        totals=compute_totals(lines, discounts),
        version=version,
        captured_at=captured_at,
    )


def discount(pos_discount_id: str, amount: int = 500) -> Discount:
    return Discount(pos_discount_id=pos_discount_id, name="Promo", amount=amount)


def summary(changes: list[Change]) -> list[tuple[str, list[str]]]:
    return [
        (
            change.change_type.value,
            [line.pos_line_id for line in change.lines]
            + [d.pos_discount_id for d in change.discounts],
        )
        for change in changes
    ]


# -- examples ------------------------------------------------------------------------------


def test_waiter_adds_a_line() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),))
    after = make_snapshot("ord-91", (make_line("ln-1"), make_line("ln-2")), version=3)
    assert summary(diff_snapshots(before, after)) == [("POS_LINE_ADDED", ["ln-2"])]


def test_nothing_changed_but_the_read() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),), (discount("d-1"),))
    after = before.model_copy(
        update={"version": 7, "captured_at": T0 + timedelta(minutes=5), "table_name": "M-15"}
    )
    assert diff_snapshots(before, after) == []


def test_one_line_can_change_in_several_ways_at_once() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1", quantity=1), make_line("ln-2")))
    after = make_snapshot(
        "ord-91",
        (
            make_line("ln-1", quantity=2, unit_price=1200, status=LineStatus.PREPARING),
            make_line("ln-2", status=LineStatus.DELIVERED),
        ),
    )
    assert summary(diff_snapshots(before, after)) == [
        ("LINE_QUANTITY_CHANGED", ["ln-1"]),
        ("LINE_UPDATED", ["ln-1"]),
        ("LINE_STATUS_CHANGED", ["ln-1"]),
        ("LINE_DELIVERED", ["ln-2"]),
    ]


def test_kitchen_cancels_and_a_waiter_voids() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"), make_line("ln-2"), make_line("ln-3")))
    after = make_snapshot("ord-91", (make_line("ln-1", status=LineStatus.CANCELLED),))
    changes = diff_snapshots(before, after)
    assert summary(changes) == [("LINE_CANCELLED", ["ln-1"]), ("LINE_REMOVED", ["ln-2", "ln-3"])]
    assert changes[1].lines == before.lines[1:]  # as they last were


def test_a_quantity_change_is_not_also_an_update() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1", quantity=1),))
    after = make_snapshot("ord-91", (make_line("ln-1", quantity=3),))
    assert summary(diff_snapshots(before, after)) == [("LINE_QUANTITY_CHANGED", ["ln-1"])]


def test_notes_change_is_an_update() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),))
    after = make_snapshot("ord-91", (make_line("ln-1", notes="sin cebolla"),))
    assert summary(diff_snapshots(before, after)) == [("LINE_UPDATED", ["ln-1"])]


def test_discounts_applied_removed_and_replaced() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),), (discount("d-1"), discount("d-2")))
    after = make_snapshot(
        "ord-91", (make_line("ln-1"),), (discount("d-2", amount=300), discount("d-3"))
    )
    changes = diff_snapshots(before, after)
    assert summary(changes) == [
        ("DISCOUNT_APPLIED", ["d-2", "d-3"]),
        ("DISCOUNT_REMOVED", ["d-1", "d-2"]),
    ]
    assert changes[1].discounts[1].amount == 500  # the replaced one, as it last was


def test_check_closed_is_the_only_change() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),))
    assert summary(diff_snapshots(before, make_snapshot(None))) == [("ORDER_CLOSED", [])]


def test_another_check_on_the_table_closes_the_stream_and_nothing_else() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),))
    after = make_snapshot("ord-92", (make_line("ln-9"), make_line("ln-1", quantity=4)))
    assert summary(diff_snapshots(before, after)) == [("ORDER_CLOSED", [])]


def test_check_reported_closed_with_the_same_id_is_closed() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),))
    after = before.model_copy(update={"order_status": OrderStatus.CLOSED})
    assert summary(diff_snapshots(before, after)) == [("ORDER_CLOSED", [])]


def test_closed_snapshot_is_the_check_as_last_seen() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),), version=4)
    closed = closed_snapshot(before, version=5, captured_at=T0 + timedelta(hours=1))
    assert closed.order_status is OrderStatus.CLOSED
    assert (closed.version, closed.lines, closed.pos_order_id) == (5, before.lines, "ord-91")
    assert closed.captured_at == T0 + timedelta(hours=1)
    assert closed_snapshot(before, version=5).captured_at == before.captured_at


def test_waiter_opens_a_check_on_an_empty_table() -> None:
    after = make_snapshot("ord-91", (make_line("ln-1"), make_line("ln-2")), (discount("d-1"),))
    assert summary(diff_snapshots(make_snapshot(None), after)) == [
        ("ORDER_OPENED", []),
        ("POS_LINE_ADDED", ["ln-1", "ln-2"]),
        ("DISCOUNT_APPLIED", ["d-1"]),
    ]


def test_empty_table_stays_empty() -> None:
    assert diff_snapshots(make_snapshot(None), make_snapshot(None, version=2)) == []


def test_submission_lines_join_silently() -> None:
    before = make_snapshot("ord-91", (make_line("ln-1"),))
    own = make_line("ln-2", origin=LineOrigin.OPENAPP)
    after = make_snapshot("ord-91", (make_line("ln-1"), own, make_line("ln-3")))
    changes = diff_snapshots(before, after, frozenset({"ln-2"}))
    assert summary(changes) == [("POS_LINE_ADDED", ["ln-3"])]
    assert apply_changes(before, changes, joined=(own,)) == (after.lines, after.discounts)


def test_a_check_a_submission_opened_is_not_announced() -> None:
    own = make_line("ln-1", origin=LineOrigin.OPENAPP)
    after = make_snapshot("ord-91", (own,))
    assert diff_snapshots(make_snapshot(None), after, frozenset({"ln-1"})) == []


def test_later_changes_of_own_lines_are_announced() -> None:
    own = make_line("ln-1", origin=LineOrigin.OPENAPP)
    before = make_snapshot("ord-91", (own,))
    after = make_snapshot("ord-91", (replace_status(own, LineStatus.READY),))
    changes = diff_snapshots(before, after, frozenset({"ln-1"}))
    assert summary(changes) == [("LINE_STATUS_CHANGED", ["ln-1"])]
    assert summary(diff_snapshots(before, make_snapshot("ord-91"), frozenset({"ln-1"}))) == [
        ("LINE_REMOVED", ["ln-1"])
    ]


def replace_status(line: Line, status: LineStatus) -> Line:
    return line.model_copy(update={"status": status})


def test_diffing_two_tables_is_a_mistake() -> None:
    other = make_snapshot(None).model_copy(update={"pos_table_id": "other"})
    with pytest.raises(ValueError, match="two different tables"):
        diff_snapshots(make_snapshot(None), other)


def test_a_closed_baseline_has_nothing_to_diff() -> None:
    closed = closed_snapshot(make_snapshot("ord-91"), version=1)
    with pytest.raises(ValueError, match="closed"):
        diff_snapshots(closed, make_snapshot(None))


# -- properties ----------------------------------------------------------------------------


class Op(Enum):
    """What can happen at a table between two reads."""

    WAITER_ADDS = auto()
    QUANTITY = auto()
    PRICE = auto()
    NOTES = auto()
    STATUS = auto()
    CANCEL = auto()
    DELIVER = auto()
    REMOVE = auto()
    ADD_DISCOUNT = auto()
    REMOVE_DISCOUNT = auto()
    CHANGE_DISCOUNT = auto()
    CLOSE = auto()
    OPEN = auto()


_KITCHEN = (LineStatus.PENDING, LineStatus.PREPARING, LineStatus.READY)
_FINAL = (LineStatus.DELIVERED, LineStatus.CANCELLED)


@dataclass
class Table:
    """The POS side of one table, mutated in place; ``own`` are the submission's lines."""

    order_id: str | None
    lines: list[Line]
    discounts: list[Discount]
    own: list[Line] = field(default_factory=list)
    next_id: int = 0

    def fresh(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}-new-{self.next_id}"

    def snapshot(self) -> Snapshot:
        return make_snapshot(
            self.order_id,
            tuple(self.lines),
            tuple(self.discounts),
            version=9,
            captured_at=T0 + timedelta(minutes=1),
        )


def _new_line(table: Table, origin: LineOrigin, seed: int) -> Line:
    return make_line(
        table.fresh("ln"), quantity=1 + seed % 3, unit_price=100 * (1 + seed % 50), origin=origin
    )


def _editable(op: Op, line: Line) -> bool:
    """Whether ``op`` changes ``line``: delivered and cancelled lines stay so, and the
    kitchen only moves a line forward."""
    if op in (Op.CANCEL, Op.DELIVER):
        return line.status not in _FINAL
    if op is Op.STATUS:
        return line.status in _KITCHEN[:-1]
    return True


_LINE_OPS = (Op.QUANTITY, Op.PRICE, Op.NOTES, Op.STATUS, Op.CANCEL, Op.DELIVER, Op.REMOVE)


def _applicable(table: Table, *, closing: bool) -> list[Op]:
    """The ops that change ``table`` as it is now (``closing``: CLOSE among them), so that
    no step of a scenario is lost on a table it does not apply to."""
    if table.order_id is None:
        return [Op.OPEN]
    ops = [Op.WAITER_ADDS, Op.ADD_DISCOUNT, *([Op.CLOSE] if closing else [])]
    if table.discounts:
        ops += [Op.REMOVE_DISCOUNT, Op.CHANGE_DISCOUNT]
    ops += [op for op in _LINE_OPS if any(_editable(op, line) for line in table.lines)]
    return ops


def _edit_line(table: Table, op: Op, seed: int) -> None:
    candidates = [i for i, line in enumerate(table.lines) if _editable(op, line)]
    index = candidates[seed % len(candidates)]
    line = table.lines[index]
    if op is Op.REMOVE:
        del table.lines[index]
        return
    quantity, price, notes, status = line.quantity, line.unit_price, line.notes, line.status
    if op is Op.QUANTITY:
        quantity += 1 + seed % 3  # monotone: a change never undoes itself
    elif op is Op.PRICE:
        price += 1 + seed % 100
    elif op is Op.NOTES:
        notes = f"{notes or ''}+{seed % 10}"
    elif op is Op.CANCEL:
        status = LineStatus.CANCELLED
    elif op is Op.DELIVER:
        status = LineStatus.DELIVERED
    else:  # Op.STATUS: the kitchen moves forward
        status = _KITCHEN[_KITCHEN.index(status) + 1]
    table.lines[index] = make_line(
        line.pos_line_id,
        quantity=quantity,
        unit_price=price,
        status=status,
        origin=line.origin,
        notes=notes,
    )


def _mutate(table: Table, op: Op, seed: int) -> None:
    """Apply ``op``, one of ``_applicable(table)``."""
    if op is Op.OPEN:
        table.order_id = table.fresh("ord")
    elif op is Op.CLOSE:
        table.order_id, table.lines, table.discounts = None, [], []
    elif op is Op.WAITER_ADDS:
        table.lines.append(_new_line(table, LineOrigin.POS, seed))
    elif op is Op.ADD_DISCOUNT:
        table.discounts.append(discount(table.fresh("d"), amount=1 + seed % 900))
    elif op is Op.REMOVE_DISCOUNT:
        del table.discounts[seed % len(table.discounts)]
    elif op is Op.CHANGE_DISCOUNT:
        index = seed % len(table.discounts)
        old = table.discounts[index]
        table.discounts[index] = discount(old.pos_discount_id, old.amount + 1)
    else:
        _edit_line(table, op, seed)


def _submit(table: Table, count: int) -> None:
    """A submission of this stream: its lines, on the open check or on one it opens."""
    if table.order_id is None:
        table.order_id = table.fresh("ord")
    for seed in range(count):
        line = _new_line(table, LineOrigin.OPENAPP, seed)
        table.lines.append(line)
        table.own.append(line)


@st.composite
def baselines(draw: st.DrawFn) -> Snapshot:
    if draw(st.integers(0, 3)) == 0:
        return make_snapshot(None)
    count = draw(st.integers(0, 5))
    lines = tuple(
        make_line(
            f"ln-{i}",
            quantity=draw(st.integers(1, 4)),
            unit_price=draw(st.integers(100, 5000)),
            status=draw(st.sampled_from(LineStatus)),
            origin=draw(st.sampled_from(LineOrigin)),
        )
        for i in range(count)
    )
    discounts = tuple(
        discount(f"d-{i}", draw(st.integers(1, 900))) for i in range(draw(st.integers(0, 2)))
    )
    return make_snapshot("ord-1", lines, discounts)


@dataclass(frozen=True)
class Scenario:
    baseline: Snapshot
    current: Snapshot
    own: tuple[Line, ...]

    @property
    def own_ids(self) -> frozenset[str]:
        return frozenset(line.pos_line_id for line in self.own)

    @property
    def changed(self) -> bool:
        """The two reads differ (lines a submission joined count: they must be applied)."""
        before, after = self.baseline, self.current
        return (before.pos_order_id, before.lines, before.discounts) != (
            after.pos_order_id, after.lines, after.discounts)


@st.composite
def _scenarios(draw: st.DrawFn, *, closing: bool, submitted: st.SearchStrategy[int]) -> Scenario:
    baseline = draw(baselines())
    table = Table(
        order_id=baseline.pos_order_id,
        lines=list(baseline.lines),
        discounts=list(baseline.discounts),
    )
    count = draw(submitted)
    if count:
        _submit(table, count)
    for _ in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(_applicable(table, closing=closing)))
        _mutate(table, op, draw(st.integers(0, 1000)))
    own_ids = {line.pos_line_id for line in table.own}
    own_now = tuple(line for line in table.lines if line.pos_line_id in own_ids)
    return Scenario(baseline, table.snapshot(), own_now)


def scenarios(*, closing: bool = True, submitted: int = 0) -> st.SearchStrategy[Scenario]:
    """Scenarios whose two reads differ (steps can still undo each other: a line added
    then removed). ``closing``: the check may be closed; ``submitted``: at least that many
    lines of a submission of the stream."""
    return _scenarios(closing=closing, submitted=st.integers(submitted, 3)).filter(
        lambda scenario: scenario.changed)


def expected(scenario: Scenario) -> set[tuple[ChangeType, str]]:
    """What must be reported, judged from the two ends: the oracle the engine must match."""
    before, after = scenario.baseline, scenario.current
    if before.pos_order_id is not None and after.pos_order_id != before.pos_order_id:
        return {(ChangeType.ORDER_CLOSED, "")}
    if after.pos_order_id is None:
        return set()
    found: set[tuple[ChangeType, str]] = set()
    if before.pos_order_id is None and not scenario.own:
        found.add((ChangeType.ORDER_OPENED, ""))
    old = {line.pos_line_id: line for line in before.lines}
    for line in after.lines:
        was = old.pop(line.pos_line_id, None)
        if was is None:
            if line.pos_line_id not in scenario.own_ids:
                found.add((ChangeType.POS_LINE_ADDED, line.pos_line_id))
            continue
        if was.quantity != line.quantity:
            found.add((ChangeType.LINE_QUANTITY_CHANGED, line.pos_line_id))
        if (was.unit_price, was.notes) != (line.unit_price, line.notes):
            found.add((ChangeType.LINE_UPDATED, line.pos_line_id))
        if was.status != line.status:
            status_type = {
                LineStatus.DELIVERED: ChangeType.LINE_DELIVERED,
                LineStatus.CANCELLED: ChangeType.LINE_CANCELLED,
            }.get(line.status, ChangeType.LINE_STATUS_CHANGED)
            found.add((status_type, line.pos_line_id))
    found |= {(ChangeType.LINE_REMOVED, line_id) for line_id in old}
    old_d = {d.pos_discount_id: d for d in before.discounts}
    new_d = {d.pos_discount_id: d for d in after.discounts}
    found |= {(ChangeType.DISCOUNT_REMOVED, i) for i, d in old_d.items() if new_d.get(i) != d}
    found |= {(ChangeType.DISCOUNT_APPLIED, i) for i, d in new_d.items() if old_d.get(i) != d}
    return found


def reported(changes: list[Change]) -> set[tuple[ChangeType, str]]:
    found: set[tuple[ChangeType, str]] = set()
    for change in changes:
        ids = [line.pos_line_id for line in change.lines]
        ids += [d.pos_discount_id for d in change.discounts]
        found |= {(change.change_type, i) for i in ids} or {(change.change_type, "")}
    return found


@settings(deadline=None)
@given(baselines())
def test_nothing_changed_reports_nothing(baseline: Snapshot) -> None:
    reread = baseline.model_copy(update={"version": 3, "captured_at": T0 + timedelta(hours=1)})
    assert diff_snapshots(baseline, reread) == []
    own = frozenset(line.pos_line_id for line in baseline.lines)
    assert diff_snapshots(baseline, reread, own) == []


@settings(deadline=None)
@given(scenarios())
def test_every_mutation_is_reported_under_its_type(scenario: Scenario) -> None:
    changes = diff_snapshots(scenario.baseline, scenario.current, scenario.own_ids)
    assert reported(changes) == expected(scenario)


@settings(deadline=None)
@given(scenarios())
def test_changes_come_one_per_type_in_contract_order(scenario: Scenario) -> None:
    changes = diff_snapshots(scenario.baseline, scenario.current, scenario.own_ids)
    order = list(ChangeType)
    types = [change.change_type for change in changes]
    assert types == sorted(set(types), key=order.index)
    if ChangeType.ORDER_CLOSED in types:
        assert types == [ChangeType.ORDER_CLOSED]
    for change in changes:
        assert (change.lines or change.discounts) or change.change_type in (
            ChangeType.ORDER_OPENED,
            ChangeType.ORDER_CLOSED,
        )


_LINE_CHANGES = frozenset(ChangeType) - {
    ChangeType.ORDER_OPENED, ChangeType.ORDER_CLOSED, ChangeType.DISCOUNT_APPLIED,
    ChangeType.DISCOUNT_REMOVED}


def _reports_lines(scenario: Scenario) -> bool:
    return any(kind in _LINE_CHANGES for kind, _ in expected(scenario))


@settings(deadline=None)
@given(scenarios(closing=False).filter(_reports_lines))
def test_lines_come_in_pos_order(scenario: Scenario) -> None:
    changes = diff_snapshots(scenario.baseline, scenario.current, scenario.own_ids)
    assert any(change.lines for change in changes)
    for change in changes:
        source = (
            scenario.baseline
            if change.change_type is ChangeType.LINE_REMOVED
            else (scenario.current)
        )
        positions = [
            [line.pos_line_id for line in source.lines].index(line.pos_line_id)
            for line in change.lines
        ]
        assert positions == sorted(positions)


def _added(changes: list[Change]) -> set[str]:
    return {line.pos_line_id for change in changes
            if change.change_type is ChangeType.POS_LINE_ADDED for line in change.lines}


@settings(deadline=None)
@given(scenarios(closing=False, submitted=1).filter(lambda scenario: bool(scenario.own)))
def test_own_lines_are_never_announced_as_added(scenario: Scenario) -> None:
    changes = diff_snapshots(scenario.baseline, scenario.current, scenario.own_ids)
    assert not _added(changes) & scenario.own_ids
    # unless the engine is told they are the stream's own: they are new to the check
    unknown = diff_snapshots(scenario.baseline, scenario.current)
    assert scenario.own_ids <= _added(unknown)


@settings(deadline=None)
@given(scenarios(closing=False))
def test_applying_the_changes_gives_the_current_check(scenario: Scenario) -> None:
    changes = diff_snapshots(scenario.baseline, scenario.current, scenario.own_ids)
    applied = apply_changes(scenario.baseline, changes, joined=scenario.own)
    assert applied == (scenario.current.lines, scenario.current.discounts)


@settings(deadline=None)
@given(scenarios())
def test_lines_shared_with_the_baseline_are_only_a_shortcut(scenario: Scenario) -> None:
    """A read shares its unchanged lines with the baseline (``to_line``), which the engine
    skips; the same read with every line a copy is diffed alike."""
    copied = scenario.current.model_copy(update={
        "lines": tuple(line.model_copy() for line in scenario.current.lines)})
    assert diff_snapshots(scenario.baseline, copied, scenario.own_ids) == diff_snapshots(
        scenario.baseline, scenario.current, scenario.own_ids)
