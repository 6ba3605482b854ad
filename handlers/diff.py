"""The diff engine (contract §4.5): from two snapshots of one table to ordered changes.

Pure: no I/O, no clock. The watcher reads a table, diffs it against its stream's baseline,
and turns each :class:`Change` into one ``TableOrderSnapshotChanged`` with the next
sequence number.

Rules, where the contract leaves room:

- **Closure.** The baseline's check is gone when the current snapshot shows no check, a
  different ``posOrderId``, or the same check with ``orderStatus: CLOSED``. Then the only
  change is ``ORDER_CLOSED``: changes to the old check's lines are not computed against
  another check, and a new check belongs to a future stream. :func:`closed_snapshot` makes
  the snapshot it carries (the check as last seen, ``CLOSED``).
- **Opening.** From no check to a check: ``ORDER_OPENED``, then its lines as
  ``POS_LINE_ADDED`` and its discounts as ``DISCOUNT_APPLIED``. ``ORDER_OPENED`` is left
  out when any line on the new check is one of ``own_line_ids``: a submission of this
  stream put lines on it, so its result already told OpenApp the check (``posOrderId``);
  an empty new check, or one with POS lines only, is announced. A check first seen
  already ``CLOSED`` is no opening.
- **Own lines.** A line whose ``posLineId`` is in ``own_line_ids`` joins silently when it
  appears; once in the baseline it is a line like any other and its changes are announced.
- **Lines** are matched by ``posLineId``. A line can produce several changes:
  ``LINE_QUANTITY_CHANGED`` (quantity), ``LINE_UPDATED`` (anything else but quantity and
  status: price, notes, modifiers, name, product, origin; ``totalPrice`` counts when the
  quantity did not change), and one status change: ``LINE_DELIVERED``, ``LINE_CANCELLED``,
  or ``LINE_STATUS_CHANGED`` for PENDING / PREPARING / READY (also when a line leaves
  DELIVERED or CANCELLED). A line gone is ``LINE_REMOVED``, carried as it last was.
- **Discounts** are matched by ``posDiscountId``: new -> ``DISCOUNT_APPLIED``, gone ->
  ``DISCOUNT_REMOVED`` (as it last was); one whose name, amount or line changed is both
  ``DISCOUNT_REMOVED`` (old) and ``DISCOUNT_APPLIED`` (new), as a POS replaces it.
- **Grouping.** One :class:`Change` per change type, in the contract's table order; lines
  in the current snapshot's order (removed ones in the baseline's). ``version``, ``currency``,
  ``capturedAt``, ``totals``, ``tableName`` and the order of lines alone are not changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas import ChangeType, Discount, Line, LineStatus, OrderStatus, Snapshot

__all__ = ["Change", "apply_changes", "closed_snapshot", "diff_snapshots"]


@dataclass(frozen=True, slots=True)
class Change:
    """One change message to be: its type and the lines or discounts it carries."""

    change_type: ChangeType
    lines: tuple[Line, ...] = ()
    discounts: tuple[Discount, ...] = ()


_STATUS_CHANGE = {
    LineStatus.DELIVERED: ChangeType.LINE_DELIVERED,
    LineStatus.CANCELLED: ChangeType.LINE_CANCELLED,
}
_ORDER = {change_type: index for index, change_type in enumerate(ChangeType)}
_LINE_EDITS = (
    ChangeType.LINE_QUANTITY_CHANGED,
    ChangeType.LINE_UPDATED,
    ChangeType.LINE_STATUS_CHANGED,
    ChangeType.LINE_DELIVERED,
    ChangeType.LINE_CANCELLED,
)
_UPDATE_FIELDS = tuple(
    name for name in Line.model_fields if name not in {"quantity", "status", "total_price"}
)
"""What LINE_UPDATED looks at; totalPrice only when the quantity stayed (see _edits)."""


def diff_snapshots(
    baseline: Snapshot, current: Snapshot, own_line_ids: frozenset[str] = frozenset()
) -> list[Change]:
    """The changes from ``baseline`` to ``current``, one per type, in publishing order."""
    if baseline.pos_table_id != current.pos_table_id:
        raise ValueError("cannot diff snapshots of two different tables")
    if baseline.order_status is OrderStatus.CLOSED:
        raise ValueError("the baseline is closed: its stream has ended")
    if baseline.pos_order_id is None:
        return _opened(current, own_line_ids)
    if (
        current.pos_order_id != baseline.pos_order_id
        or current.order_status is not OrderStatus.OPEN
    ):
        return [Change(ChangeType.ORDER_CLOSED)]
    found = _line_changes(baseline.lines, current.lines, own_line_ids)
    found += _discount_changes(baseline.discounts, current.discounts)
    return _grouped(found)


def closed_snapshot(
    baseline: Snapshot, *, version: int, captured_at: datetime | None = None
) -> Snapshot:
    """The snapshot an ``ORDER_CLOSED`` change carries: the check as last seen, CLOSED."""
    return baseline.model_copy(
        update={
            "order_status": OrderStatus.CLOSED,
            "version": version,
            "captured_at": captured_at if captured_at is not None else baseline.captured_at,
        }
    )


def apply_changes(
    baseline: Snapshot, changes: Iterable[Change], joined: Sequence[Line] = ()
) -> tuple[tuple[Line, ...], tuple[Discount, ...]]:
    """The lines and discounts a consumer holds after applying ``changes`` to ``baseline``.

    ``joined`` are the own lines that joined silently (the submission's result announced
    them). Lines keep their place, new ones follow: ``joined`` first, then
    ``POS_LINE_ADDED``. That is the POS order the adapter produces, because a submission
    first pushes the table's pending changes, so within one diff its lines come before any
    later POS line. Discounts keep their place too (a replaced one stays where it was),
    new ones follow. ``ORDER_OPENED`` and ``ORDER_CLOSED`` change neither.
    """
    by_type = {change.change_type: change for change in changes}
    edited = {line.pos_line_id: line for line in _carried_lines(by_type, _LINE_EDITS)}
    removed = {line.pos_line_id for line in _carried_lines(by_type, (ChangeType.LINE_REMOVED,))}
    lines = [
        edited.get(line.pos_line_id, line)
        for line in baseline.lines
        if line.pos_line_id not in removed
    ]
    lines += joined
    lines += _carried_lines(by_type, (ChangeType.POS_LINE_ADDED,))
    return tuple(lines), _applied_discounts(baseline.discounts, by_type)


def _carried_lines(by_type: dict[ChangeType, Change], types: Iterable[ChangeType]) -> list[Line]:
    return [line for t in types if t in by_type for line in by_type[t].lines]


def _applied_discounts(
    discounts: Sequence[Discount], by_type: dict[ChangeType, Change]
) -> tuple[Discount, ...]:
    """Discounts in place, a replaced one (removed and applied again) where it was."""
    applied_change = by_type.get(ChangeType.DISCOUNT_APPLIED)
    removed_change = by_type.get(ChangeType.DISCOUNT_REMOVED)
    applied = {d.pos_discount_id: d for d in applied_change.discounts} if applied_change else {}
    removed = {d.pos_discount_id for d in removed_change.discounts} if removed_change else set()
    kept = [
        applied.pop(d.pos_discount_id, d)
        for d in discounts
        if d.pos_discount_id not in removed or d.pos_discount_id in applied
    ]
    return (*kept, *applied.values())


# -- computing ------------------------------------------------------------------------------

_Found = list[tuple[ChangeType, Line | Discount]]


def _opened(current: Snapshot, own_line_ids: frozenset[str]) -> list[Change]:
    if current.order_status is not OrderStatus.OPEN:
        return []  # still no check, or one already closed: nothing to stream
    by_submission = any(line.pos_line_id in own_line_ids for line in current.lines)
    opened = [] if by_submission else [Change(ChangeType.ORDER_OPENED)]
    found = _line_changes((), current.lines, own_line_ids)
    found += _discount_changes((), current.discounts)
    return opened + _grouped(found)


def _line_changes(
    before: Sequence[Line], after: Sequence[Line], own_line_ids: frozenset[str]
) -> _Found:
    # A check read again starts with the lines it had, the very same objects (see
    # handlers._snapshots.to_line): that prefix has no changes, and as line ids are unique
    # within a snapshot, none of its ids can be matched by the rest.
    same = _same_prefix(before, after)
    before, after = before[same:], after[same:]
    old = {line.pos_line_id: line for line in before}
    found: _Found = []
    for line in after:
        previous = old.get(line.pos_line_id)
        if previous is None:
            if line.pos_line_id not in own_line_ids:
                found.append((ChangeType.POS_LINE_ADDED, line))
            continue
        found += [(change_type, line) for change_type in _edits(previous, line)]
    current_ids = {line.pos_line_id for line in after}
    found += [
        (ChangeType.LINE_REMOVED, line) for line in before if line.pos_line_id not in current_ids
    ]
    return found


def _same_prefix(before: Sequence[Line], after: Sequence[Line]) -> int:
    """How many lines both start with, object for object."""
    same = 0
    for old, new in zip(before, after, strict=False):
        if old is not new:
            break
        same += 1
    return same


def _edits(before: Line, after: Line) -> list[ChangeType]:
    """The change types one line went through between two snapshots."""
    edits: list[ChangeType] = []
    if after is before or after == before:  # the same object: a line read as it was
        return edits
    same_quantity = after.quantity == before.quantity
    if not same_quantity:
        edits.append(ChangeType.LINE_QUANTITY_CHANGED)
    if any(getattr(after, name) != getattr(before, name) for name in _UPDATE_FIELDS) or (
        same_quantity and after.total_price != before.total_price
    ):
        edits.append(ChangeType.LINE_UPDATED)
    if after.status != before.status:
        edits.append(_STATUS_CHANGE.get(after.status, ChangeType.LINE_STATUS_CHANGED))
    return edits


def _discount_changes(before: Sequence[Discount], after: Sequence[Discount]) -> _Found:
    old = {discount.pos_discount_id: discount for discount in before}
    new = {discount.pos_discount_id: discount for discount in after}
    found: _Found = [
        (ChangeType.DISCOUNT_REMOVED, discount)
        for discount in before
        if new.get(discount.pos_discount_id) != discount
    ]
    found += [
        (ChangeType.DISCOUNT_APPLIED, discount)
        for discount in after
        if old.get(discount.pos_discount_id) != discount
    ]
    return found


def _grouped(found: _Found) -> list[Change]:
    """One Change per type, in the contract's order, items in the order they were found."""
    lines: dict[ChangeType, list[Line]] = {}
    discounts: dict[ChangeType, list[Discount]] = {}
    for change_type, item in found:
        if isinstance(item, Line):
            lines.setdefault(change_type, []).append(item)
        else:
            discounts.setdefault(change_type, []).append(item)
    return [
        Change(
            change_type, tuple(lines.get(change_type, ())), tuple(discounts.get(change_type, ()))
        )
        for change_type in sorted({*lines, *discounts}, key=_ORDER.__getitem__)
    ]
