"""From a driver's PosCheck to the contract's Snapshot.

A line is ``OPENAPP`` when one of this adapter's submissions created it: the driver
hands back the external reference ``"<submissionId>:<lineId>"`` the adapter gave it, and
the submission is in the store. Every other line is ``POS`` (waiter, kitchen, terminal,
the POS's own QR diners).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    line_total,
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
    lines a submission just created), are ours without a store lookup.
    """
    known: dict[str, str] = dict(own_lines_of(baseline)) if baseline else {}
    if own:
        known.update(own)
    unknown = [line for line in check.lines if line.line_id not in known]
    resolved = await resolve_own_lines(ctx.store, ctx.location_id, unknown)
    if resolved:
        known.update(resolved)
    return to_snapshot(check, pos_table_id=table, own_lines=known, version=0,
                       captured_at=ctx.clock())


_LINE_ID = attrgetter("line_id")


def _own_lines(snapshot: Snapshot) -> dict[str, str]:
    return {
        line.pos_line_id: line.open_app_line_id
        for line in snapshot.lines
        if line.origin is OPENAPP and line.open_app_line_id
    }


own_lines_of: ByIdentity[Snapshot, dict[str, str]] = ByIdentity(_own_lines)
"""posLineId -> openAppLineId of a snapshot's own lines (not to be changed), made once
per snapshot: every read of a table, a submission's catch-up above all, starts from the
stream's baseline, whose lines the read before it already told apart
(``handlers._streams.advance_stream`` passes them on to the baseline it makes)."""


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
) -> Snapshot:
    """The contract's snapshot of ``check``. Its lines are contract lines already (each
    validated once, when it was converted): the snapshot is validated without them and
    they join it after, their ids checked unique, what the model's validator would do
    with them (it would also look at each again, on every read of a table)."""
    line_ids = list(map(_LINE_ID, check.lines)) if check.order_id else []
    lines = tuple(map(to_line, check.lines, map(own_lines.get, line_ids)))
    discounts = tuple(_discount(discount) for discount in check.discounts)
    if check.totals is not None:
        totals = Totals(
            subtotal=check.totals.subtotal,
            discount_total=check.totals.discount_total,
            tax_total=check.totals.tax_total,
            total=max(0, check.totals.total),
        )
    else:
        totals = compute_totals(lines, discounts)
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
    if not lines:
        return snapshot
    if len(set(line_ids)) != len(line_ids):
        raise ValueError(f"the POS's check {check.order_id} repeats a line id")
    return snapshot.model_copy(update={"lines": lines})


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
