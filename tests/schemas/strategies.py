"""Hypothesis strategies for valid contract models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from hypothesis import strategies as st

from schemas import (
    Discount,
    EchoedOrderContext,
    Line,
    LineOrigin,
    LineStatus,
    Modifier,
    OrderContext,
    OrderStatus,
    OrderSubmissionRequested,
    Payment,
    Snapshot,
    SnapshotReason,
    SubmissionItem,
    SubmissionModifier,
    TableOrderSnapshotRequested,
    WireModel,
    compute_totals,
    line_total,
)

_M = TypeVar("_M", bound=WireModel)


def _kw(model: type[_M]) -> Callable[..., _M]:
    """Keyword-only constructor: ``st.builds`` must not guess the fields we leave out."""

    def build(**fields: Any) -> _M:
        return model(**fields)

    return build


# The contract's text: any Unicode text without NUL (schemas._text).
_characters = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
identifiers = st.text(_characters, min_size=1, max_size=128)
texts = st.text(_characters, max_size=60)
money = st.integers(min_value=-(10**9), max_value=10**9)
prices = st.integers(min_value=0, max_value=10**7)
currencies = st.sampled_from(["PEN", "USD", "EUR", "MXN"])
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)

modifiers = st.builds(
    _kw(Modifier),
    modifier_id=identifiers,
    name=texts,
    quantity=st.integers(1, 5),
    unit_price=prices,
)


@st.composite
def lines(draw: st.DrawFn, pos_line_id: st.SearchStrategy[str] = identifiers) -> Line:
    quantity = draw(st.integers(1, 20))
    unit_price = draw(prices)
    mods = tuple(draw(st.lists(modifiers, max_size=2)))
    origin = draw(st.sampled_from(LineOrigin))
    return Line(
        pos_line_id=draw(pos_line_id),
        product_id=draw(identifiers),
        name=draw(texts),
        quantity=quantity,
        unit_price=unit_price,
        total_price=line_total(quantity, unit_price, mods),
        status=draw(st.sampled_from(LineStatus)),
        origin=origin,
        open_app_line_id=draw(identifiers) if origin is LineOrigin.OPENAPP else None,
        notes=draw(st.none() | texts),
        modifiers=mods,
    )


discounts = st.builds(
    _kw(Discount),
    pos_discount_id=identifiers,
    name=texts,
    amount=st.integers(1, 10**6),
    pos_line_id=st.none() | identifiers,
)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    status = draw(st.sampled_from(OrderStatus))
    has_check = status is not OrderStatus.NONE
    check_lines = (
        tuple(draw(st.lists(lines(), max_size=4, unique_by=lambda line: line.pos_line_id)))
        if has_check
        else ()
    )
    check_discounts = (
        tuple(draw(st.lists(discounts, max_size=2, unique_by=lambda d: d.pos_discount_id)))
        if has_check
        else ()
    )
    return Snapshot(
        pos_table_id=draw(identifiers),
        table_name=draw(st.none() | texts),
        pos_order_id=draw(identifiers) if has_check else None,
        order_status=status,
        currency=draw(currencies),
        lines=check_lines,
        discounts=check_discounts,
        totals=compute_totals(check_lines, check_discounts, draw(st.integers(0, 10**5))),
        version=draw(st.integers(0, 10**6)),
        captured_at=draw(timestamps),
    )


submission_items = st.builds(
    _kw(SubmissionItem),
    line_id=identifiers,
    product_id=identifiers,
    quantity=st.integers(1, 99),
    unit_price=prices,
    notes=st.none() | st.text(_characters, max_size=500),
    modifiers=st.lists(
        st.builds(
            _kw(SubmissionModifier),
            modifier_id=identifiers,
            name=st.none() | texts,
            quantity=st.none() | st.integers(1, 99),
            unit_price=st.none() | prices,
        ),
        max_size=2,
    ).map(tuple),
)

payments = st.builds(
    _kw(Payment),
    payment_id=identifiers,
    amount=prices,
    currency=currencies,
    method=identifiers,
    paid_at=timestamps,
)

submissions = st.builds(
    _kw(OrderSubmissionRequested),
    submission_id=identifiers,
    order_context=st.builds(
        _kw(OrderContext),
        type=st.just("TABLE"),
        pos_table_id=identifiers,
        table_session_id=identifiers,
    ),
    items=st.lists(submission_items, min_size=1, max_size=5, unique_by=lambda i: i.line_id),
    payment=st.none() | payments,
)

snapshot_requests = st.builds(
    _kw(TableOrderSnapshotRequested),
    pos_table_id=identifiers,
    table_session_id=identifiers,
    reason=st.sampled_from(SnapshotReason),
)

echoed_contexts = st.builds(
    _kw(EchoedOrderContext),
    type=st.none() | identifiers,
    pos_table_id=st.none() | identifiers,
    table_session_id=st.none() | identifiers,
)
