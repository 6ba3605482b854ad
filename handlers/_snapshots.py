"""From a driver's PosCheck to the contract's Snapshot.

A line is ``OPENAPP`` when one of this adapter's submissions created it: the driver
hands back the external reference ``"<submissionId>:<lineId>"`` the adapter gave it, and
the submission is in the store. Every other line is ``POS`` (waiter, kitchen, terminal,
the POS's own QR diners).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from handlers._context import HandlerContext
from handlers._records import Store
from pos_drivers import PosCheck, PosDiscount, PosLine, SharedValues
from schemas import (
    ByIdentity,
    Discount,
    Line,
    LineOrigin,
    LineStatus,
    Modifier,
    OrderStatus,
    Snapshot,
    Totals,
    compute_totals,
    grown_lines_json,
    line_total,
    same_lines_json,
)


def external_ref(submission_id: str, line_id: str) -> str:
    return f"{submission_id}:{line_id}"


def _ref_candidates(ref: str) -> list[str]:
    """Every submissionId a reference could start with (ids may contain ':')."""
    return [ref[:i] for i, char in enumerate(ref) if char == ":"]


OPENAPP = LineOrigin.OPENAPP
"""Looked up once: a member through its enum class costs a lookup per line."""


async def snapshot_of(
    ctx: HandlerContext,
    table: str,
    check: PosCheck,
    baseline: Snapshot | None,
    *,
    own: Mapping[str, str] | None = None,
) -> Snapshot:
    """The contract's snapshot of a check just read (version 0: the caller numbers it).

    Lines the baseline already knows as ours, and ``own`` (posLineId -> OpenApp lineId:
    lines a submission just created), are ours without a store lookup. When the check
    begins with the very lines the baseline was made of (lines were only added since,
    a submission's catch-up above all), the baseline's lines are taken as they are and
    only the new ones are looked at: a read costs what changed, not the whole check.
    """
    start = _unchanged_start(baseline, check)
    known: dict[str, str] = dict(own_lines_of(baseline)) if baseline else {}
    if own:
        known.update(own)
    new_lines = check.lines[len(start.lines):] if start else check.lines
    unknown = [line for line in new_lines if line.line_id not in known]
    resolved = await resolve_own_lines(ctx.store, ctx.location_id, unknown)
    if resolved:
        known.update(resolved)
    snapshot = to_snapshot(check, pos_table_id=table, own_lines=known, version=0,
                           captured_at=ctx.clock(), start=start)
    if start is not None:
        added = _own_lines(snapshot.lines[len(start.lines):])
        own_lines_of.put(snapshot, {**own_lines_of(start), **added})
        grown_lines_json(snapshot, start)
    return snapshot


_LINE_ID = attrgetter("line_id")


def _own_lines(lines: Iterable[Line]) -> dict[str, str]:
    return {
        line.pos_line_id: line.open_app_line_id
        for line in lines
        if line.origin is OPENAPP and line.open_app_line_id
    }


own_lines_of: ByIdentity[Snapshot, dict[str, str]] = ByIdentity(
    lambda snapshot: _own_lines(snapshot.lines)
)
"""posLineId -> openAppLineId of a snapshot's own lines (not to be changed), made once
per snapshot: every read of a table, a submission's catch-up above all, starts from the
stream's baseline, whose lines the read before it already told apart."""


@dataclass(frozen=True, slots=True)
class _Made:
    """What a snapshot's lines were converted from: the POS's lines, in order, and their
    subtotal when the adapter computed it (None: the POS reported its totals)."""

    pos_lines: tuple[PosLine, ...]
    subtotal: int | None


_made_from: ByIdentity[Snapshot, _Made] = ByIdentity(lambda _snapshot: _Made((), None))
"""Known for the snapshots ``to_snapshot`` made (and their copies with the same lines,
:func:`same_lines`); any other is made of nothing reusable."""


def same_lines(copy: Snapshot, original: Snapshot) -> None:
    """``copy`` (a ``model_copy`` of ``original`` with other scalars) has its lines: what
    is known of them holds for it too."""
    own_lines_of.put(copy, own_lines_of(original))
    _made_from.put(copy, _made_from(original))
    same_lines_json(copy, original)


def _unchanged_start(baseline: Snapshot | None, check: PosCheck) -> Snapshot | None:
    """The baseline, when ``check`` is the same check beginning with exactly the lines
    the baseline was made of (compared by identity first: a driver shares unchanged
    lines from one read to the next)."""
    if baseline is None or not check.order_id or check.order_id != baseline.pos_order_id:
        return None
    made = _made_from(baseline)
    count = len(made.pos_lines)
    if not count or count > len(check.lines) or check.lines[:count] != made.pos_lines:
        return None
    if (check.totals is None) != (made.subtotal is not None):
        return None
    return baseline


async def resolve_own_lines(
    store: Store, location_id: str, lines: Iterable[PosLine]
) -> dict[str, str]:
    """posLineId -> openAppLineId for the lines our submissions created."""
    with_refs = [line for line in lines if line.external_ref]
    if not with_refs:
        return {}
    candidates = sorted({c for line in with_refs for c in _ref_candidates(line.external_ref or "")})
    known = {r.submission_id for r in await store.submissions_by_ids(location_id, candidates)}
    own: dict[str, str] = {}
    for line in with_refs:
        ref = line.external_ref or ""
        for candidate in _ref_candidates(ref):
            if candidate in known:
                own[line.line_id] = ref[len(candidate) + 1 :]
                break
    return own


def to_snapshot(
    check: PosCheck,
    *,
    pos_table_id: str,
    own_lines: Mapping[str, str],
    version: int,
    captured_at: datetime,
    start: Snapshot | None = None,
) -> Snapshot:
    """The contract's snapshot of ``check``; ``start``: a snapshot made of the check's
    first lines (see :func:`snapshot_of`), whose lines and subtotal are taken as they are.

    Its lines are contract lines already (each validated once, when it was converted):
    the snapshot is validated without them and they join it after, their ids checked
    unique, what the model's validator would do with them (it would also look at each
    again, on every read of a table)."""
    kept = start.lines if start is not None and check.order_id else ()
    new_pos_lines = check.lines[len(kept):] if check.order_id else ()
    new_lines = tuple(map(to_line, new_pos_lines,
                          map(own_lines.get, map(_LINE_ID, new_pos_lines))))
    lines = kept + new_lines
    discounts = tuple(_discount(discount) for discount in check.discounts)
    if check.totals is not None:
        totals = Totals(
            subtotal=check.totals.subtotal,
            discount_total=check.totals.discount_total,
            tax_total=check.totals.tax_total,
            total=max(0, check.totals.total),
        )
    else:
        before = (_made_from(start).subtotal or 0) if kept and start is not None else 0
        totals = compute_totals(new_lines, discounts, subtotal_before=before)
    snapshot = Snapshot(
        pos_table_id=pos_table_id,
        table_name=check.table_name,
        pos_order_id=check.order_id,
        order_status=OrderStatus.OPEN if check.order_id else OrderStatus.NONE,
        currency=check.currency,
        discounts=discounts if check.order_id else (),
        totals=totals,
        version=version,
        captured_at=captured_at,
    )
    if lines:
        if len(set(map(_LINE_ID, check.lines))) != len(lines):
            raise ValueError(f"the POS's check {check.order_id} repeats a line id")
        snapshot = snapshot.model_copy(update={"lines": lines})
    pos_lines = check.lines if check.order_id else ()
    _made_from.put(snapshot, _Made(pos_lines, totals.subtotal if check.totals is None else None))
    return snapshot


def to_line(line: PosLine, open_app_line_id: str | None) -> Line:
    """The contract's line of a POS line. Every read of a check converts all its lines
    again, nearly all as they were: a line is converted once and shared (both are
    immutable) for as long as anything holds it, a stream's baseline above all, so what
    is remembered is what the open checks hold, however many tables."""
    key = (line, open_app_line_id)
    ref = _LINES.refs.get(key)
    converted = None if ref is None else ref()
    if converted is None:
        return _LINES.put(key, _converted(line, open_app_line_id))
    return converted


_LINES: SharedValues[tuple[PosLine, str | None], Line] = SharedValues()


def _converted(line: PosLine, open_app_line_id: str | None) -> Line:
    modifiers = tuple(
        Modifier(
            modifier_id=m.modifier_id, name=m.name, quantity=m.quantity, unit_price=m.unit_price
        )
        for m in line.modifiers
    )
    return Line(
        pos_line_id=line.line_id,
        product_id=line.product_id,
        name=line.name,
        quantity=line.quantity,
        unit_price=line.unit_price,
        total_price=line_total(line.quantity, line.unit_price, modifiers),
        status=LineStatus(line.status.value),
        origin=LineOrigin.OPENAPP if open_app_line_id else LineOrigin.POS,
        open_app_line_id=open_app_line_id,
        notes=line.notes,
        modifiers=modifiers,
    )


def _discount(discount: PosDiscount) -> Discount:
    return Discount(
        pos_discount_id=discount.discount_id,
        name=discount.name,
        amount=discount.amount,
        pos_line_id=discount.line_id,
    )
