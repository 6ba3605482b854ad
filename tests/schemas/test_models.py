"""Field rules of the shared models and of each flow."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    AcceptedItem,
    Discount,
    EchoedOrderContext,
    ItemRejectionReason,
    Line,
    LineOrigin,
    LineStatus,
    Modifier,
    OrderContext,
    OrderStatus,
    OrderSubmissionRequested,
    OrderSubmissionResult,
    RejectedItem,
    Rejection,
    RejectionReason,
    Snapshot,
    SnapshotOutcome,
    SubmissionItem,
    SubmissionOutcome,
    TableOrderSnapshotChanged,
    TableOrderSnapshotResolutionResult,
    Totals,
    compute_totals,
    describe_validation_error,
    line_total,
)

from .examples import LINE, PAYLOADS, SNAPSHOT


def _error(model: type[Any], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return describe_validation_error(caught.value, prefix="payload")


# -- strict integers, identifiers, datetimes --------------------------------------------------


@pytest.mark.parametrize("bad", ["900", 900.0, 9.5, True, None])
def test_money_and_quantities_are_json_integers_only(bad: Any) -> None:
    for field in ("quantity", "unitPrice", "totalPrice"):
        assert f"payload.{field}: " in _error(Line, {**LINE, field: bad})


def test_integers_are_accepted_as_integers() -> None:
    assert Line.model_validate(LINE).unit_price == 900


@pytest.mark.parametrize(
    ("value", "ok"), [("", False), ("x", True), ("x" * 128, True), ("x" * 129, False), (15, False)]
)
def test_identifiers_are_strings_of_1_to_128(value: Any, ok: bool) -> None:
    data = {**LINE, "posLineId": value}
    if ok:
        assert Line.model_validate(data).pos_line_id == value
    else:
        assert _error(Line, data).startswith("payload.posLineId: ")


@pytest.mark.parametrize(
    "value",
    ["2026-11-21T19:00:00", "2026-11-21", "1700000000", 1700000000, "21/11/2026 19:00 +00:00"],
)
def test_datetimes_need_rfc3339_with_an_offset(value: Any) -> None:
    assert _error(Snapshot, {**SNAPSHOT, "capturedAt": value}) == (
        "payload.capturedAt: must be an RFC 3339 date-time with an offset, "
        "like 2026-11-21T19:00:00Z"
    )


@pytest.mark.parametrize("value", ["2026-11-21T19:00:00Z", "2026-11-21T19:00:00.5+05:30"])
def test_rfc3339_datetimes_are_accepted(value: str) -> None:
    assert Snapshot.model_validate({**SNAPSHOT, "capturedAt": value}).captured_at.tzinfo


def test_optional_fields_may_be_absent_or_null() -> None:
    absent = {k: v for k, v in LINE.items() if k not in {"openAppLineId", "notes", "modifiers"}}
    assert Line.model_validate(absent) == Line.model_validate(LINE)


# -- snapshot --------------------------------------------------------------------------------


def test_snapshot_without_check_has_no_order_id_and_no_lines() -> None:
    none = {**SNAPSHOT, "posOrderId": None, "orderStatus": "NONE"}
    assert Snapshot.model_validate(none).order_status is OrderStatus.NONE
    assert "posOrderId must be null" in _error(Snapshot, {**SNAPSHOT, "posOrderId": None})
    assert "no lines" in _error(Snapshot, {**none, "lines": [LINE]})


def test_snapshot_ids_are_unique() -> None:
    assert "posLineId must be unique" in _error(Snapshot, {**SNAPSHOT, "lines": [LINE, LINE]})
    promo = {"posDiscountId": "d", "name": "Promo", "amount": 100}
    assert "posDiscountId must be unique" in _error(
        Snapshot, {**SNAPSHOT, "discounts": [promo, promo]}
    )


def test_discount_amount_is_positive() -> None:
    discount = {"posDiscountId": "d", "name": "Happy hour", "amount": 0, "posLineId": None}
    assert _error(Discount, discount) == "payload.amount: must be greater than 0"


# -- totals ----------------------------------------------------------------------------------


def _line(total: int, status: LineStatus = LineStatus.PENDING) -> Line:
    return Line.model_validate(
        {**LINE, "posLineId": f"ln-{total}", "totalPrice": total, "status": status}
    )


def test_line_total_counts_modifiers_per_unit() -> None:
    modifiers = [
        Modifier(modifier_id="m1", name="extra", quantity=2, unit_price=150),
        Modifier(modifier_id="m2", name="big", quantity=1, unit_price=200),
    ]
    assert line_total(3, 1000, modifiers) == 3 * (1000 + 300 + 200)
    assert line_total(2, 500) == 1000


def test_compute_totals_skips_cancelled_lines_and_never_goes_below_zero() -> None:
    lines = [_line(1000), _line(500, LineStatus.CANCELLED), _line(300, LineStatus.DELIVERED)]
    discounts = [Discount(pos_discount_id="d", name="promo", amount=200)]
    assert compute_totals(lines, discounts, tax_total=180) == Totals(
        subtotal=1300, discount_total=200, tax_total=180, total=1280
    )
    big = [Discount(pos_discount_id="d", name="promo", amount=5000)]
    assert compute_totals(lines, big).total == 0
    assert compute_totals([], []) == Totals(subtotal=0, discount_total=0, tax_total=0, total=0)


# -- rejection -------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(RejectionReason))
def test_only_pos_unavailable_is_retryable(reason: RejectionReason) -> None:
    rejection = Rejection.of(reason, "why")
    assert rejection.retryable is (reason is RejectionReason.POS_UNAVAILABLE)
    assert rejection.pos_detail is None


# -- submission request ----------------------------------------------------------------------


def _submission(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(PAYLOADS["OrderSubmissionRequested"])
    data.update(changes)
    return data


def _items(count: int) -> list[dict[str, Any]]:
    return [
        {"lineId": f"l{i}", "productId": "p", "quantity": 1, "unitPrice": 100} for i in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "error"),
    [
        (0, "payload.items: must not be empty"),
        (1, None),
        (100, None),
        (101, "payload.items: must have at most 100 items"),
    ],
)
def test_items_1_to_100(count: int, error: str | None) -> None:
    data = _submission(items=_items(count))
    if error is None:
        assert len(OrderSubmissionRequested.model_validate(data).items) == count
    else:
        assert _error(OrderSubmissionRequested, data) == error


@pytest.mark.parametrize(("quantity", "ok"), [(0, False), (1, True), (99, True), (100, False)])
def test_item_quantity_1_to_99(quantity: int, ok: bool) -> None:
    data = _submission(items=[{**_items(1)[0], "quantity": quantity}])
    if ok:
        assert OrderSubmissionRequested.model_validate(data).items[0].quantity == quantity
    else:
        assert _error(OrderSubmissionRequested, data).startswith("payload.items[0].quantity: ")


def test_notes_at_most_500_characters() -> None:
    ok = _submission(items=[{**_items(1)[0], "notes": "n" * 500}])
    assert OrderSubmissionRequested.model_validate(ok).items[0].notes == "n" * 500
    too_long = _submission(items=[{**_items(1)[0], "notes": "n" * 501}])
    assert _error(OrderSubmissionRequested, too_long) == (
        "payload.items[0].notes: must be at most 500 characters"
    )


def test_every_repeated_line_id_is_named() -> None:
    items = _items(5)
    items[2]["lineId"] = "l0"
    items[3]["lineId"] = "l1"
    items[4]["lineId"] = "l0"
    assert _error(OrderSubmissionRequested, _submission(items=items)) == (
        "payload.items[2].lineId: repeats items[0].lineId; "
        "payload.items[3].lineId: repeats items[1].lineId; "
        "payload.items[4].lineId: repeats items[0].lineId"
    )


def test_repeated_line_ids_are_caught_when_built_in_python() -> None:
    item = SubmissionItem(line_id="a", product_id="p", quantity=1, unit_price=1)
    context = OrderContext(type="TABLE", pos_table_id="t", table_session_id="s")
    with pytest.raises(ValidationError) as caught:
        OrderSubmissionRequested(submission_id="s", order_context=context, items=[item, item])
    assert describe_validation_error(caught.value) == "items[1].lineId: repeats items[0].lineId"


def test_submitted_modifiers_need_only_an_id() -> None:
    items = [
        {
            **_items(1)[0],
            "modifiers": [
                {"modifierId": "extra-cheese"},
                {"modifierId": "big", "quantity": 2, "unitPrice": 50},
            ],
        }
    ]
    parsed = OrderSubmissionRequested.model_validate(_submission(items=items))
    first, second = parsed.items[0].modifiers
    assert (first.name, first.quantity, first.unit_price) == (None, None, None)
    assert (second.quantity, second.unit_price) == (2, 50)


def test_null_modifiers_mean_none() -> None:
    data = _submission(items=[{**_items(1)[0], "modifiers": None}])
    assert OrderSubmissionRequested.model_validate(data).items[0].modifiers == ()


def test_negative_prices_are_refused() -> None:
    data = _submission(items=[{**_items(1)[0], "unitPrice": -1}])
    assert (
        _error(OrderSubmissionRequested, data) == "payload.items[0].unitPrice: must be at least 0"
    )


def test_non_table_context_is_valid_so_that_it_can_be_called_unsupported() -> None:
    data = _submission(orderContext={"type": "TAKEAWAY"})
    assert OrderSubmissionRequested.model_validate(data).order_context.type == "TAKEAWAY"


def test_table_context_needs_table_and_session() -> None:
    assert _error(OrderSubmissionRequested, _submission(orderContext={"type": "TABLE"})) == (
        "payload.orderContext.posTableId: required for a TABLE order context; "
        "payload.orderContext.tableSessionId: required for a TABLE order context"
    )


def test_prepaid_payment() -> None:
    payment = {
        "paymentId": "pay-1",
        "amount": 7000,
        "currency": "PEN",
        "method": "CARD",
        "paidAt": "2026-11-21T19:01:00Z",
    }
    parsed = OrderSubmissionRequested.model_validate(_submission(payment=payment))
    assert parsed.payment is not None
    assert parsed.payment.paid_at == datetime(2026, 11, 21, 19, 1, tzinfo=UTC)


# -- results ---------------------------------------------------------------------------------


def test_rejected_snapshot_result_may_lack_what_the_request_lacked() -> None:
    result = TableOrderSnapshotResolutionResult(
        outcome=SnapshotOutcome.REJECTED,
        rejection=Rejection.of(RejectionReason.INVALID_REQUEST, "payload.posTableId: required"),
    )
    assert result.model_dump()["posTableId"] is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"snapshot": None}, "RESOLVED needs snapshot"),
        ({"streamId": None}, "RESOLVED needs snapshot"),
        ({"outcome": "REJECTED"}, "REJECTED needs a rejection"),
        (
            {
                "outcome": "REJECTED",
                "snapshot": None,
                "streamId": None,
                "rejection": {"reason": "ORDER_CLOSED", "message": "m", "retryable": False},
            },
            "ORDER_CLOSED is not a snapshot rejection reason",
        ),
    ],
)
def test_snapshot_result_outcome_matches_its_fields(changes: dict[str, Any], problem: str) -> None:
    data = {**PAYLOADS["TableOrderSnapshotResolutionResult"], **changes}
    assert problem in _error(TableOrderSnapshotResolutionResult, data)


def _accepted(line_id: str) -> AcceptedItem:
    return AcceptedItem(line_id=line_id, pos_line_id=f"pos-{line_id}", quantity=1, unit_price=1)


def _rejected(line_id: str) -> RejectedItem:
    return RejectedItem(
        line_id=line_id, reason=ItemRejectionReason.OUT_OF_STOCK, message="agotado", retryable=False
    )


@pytest.mark.parametrize(
    ("outcome", "accepted", "rejected", "rejection", "ok"),
    [
        (SubmissionOutcome.ACCEPTED, ["a"], [], None, True),
        (SubmissionOutcome.ACCEPTED, ["a"], ["b"], None, False),
        (SubmissionOutcome.PARTIALLY_ACCEPTED, ["a"], ["b"], None, True),
        (SubmissionOutcome.PARTIALLY_ACCEPTED, ["a"], [], None, False),
        (SubmissionOutcome.REJECTED, [], ["b"], None, True),
        (SubmissionOutcome.REJECTED, [], [], RejectionReason.INVALID_REQUEST, True),
        (SubmissionOutcome.REJECTED, [], [], None, False),
        (SubmissionOutcome.REJECTED, ["a"], ["b"], RejectionReason.ORDER_CLOSED, False),
        (SubmissionOutcome.REJECTED, [], ["b"], RejectionReason.TABLE_UNAVAILABLE, False),
        (SubmissionOutcome.PARTIALLY_ACCEPTED, ["a"], ["a"], None, False),
    ],
)
def test_submission_result_outcome_matches_its_items(
    outcome: SubmissionOutcome,
    accepted: list[str],
    rejected: list[str],
    rejection: RejectionReason | None,
    ok: bool,
) -> None:
    def build() -> OrderSubmissionResult:
        return OrderSubmissionResult(
            outcome=outcome,
            accepted_items=tuple(_accepted(i) for i in accepted),
            rejected_items=tuple(_rejected(i) for i in rejected),
            rejection=Rejection.of(rejection, "m") if rejection else None,
        )

    if ok:
        assert build().outcome is outcome
    else:
        with pytest.raises(ValidationError):
            build()


def test_echoed_order_context_keeps_what_can_be_echoed() -> None:
    assert EchoedOrderContext.from_raw(
        {"type": "TABLE", "posTableId": 15, "tableSessionId": "s"}
    ) == EchoedOrderContext(type="TABLE", pos_table_id=None, table_session_id="s")
    assert EchoedOrderContext.from_raw(None) is None
    assert EchoedOrderContext.from_raw(["TABLE"]) is None


def test_request_context_is_echoed_as_is() -> None:
    context = OrderContext(type="TABLE", pos_table_id="t", table_session_id="s")
    result = OrderSubmissionResult(
        submission_id="sub",
        order_context=context,
        outcome=SubmissionOutcome.ACCEPTED,
        accepted_items=(_accepted("a"),),
    )
    assert result.model_dump()["orderContext"] == {
        "type": "TABLE",
        "posTableId": "t",
        "tableSessionId": "s",
    }


# -- change ----------------------------------------------------------------------------------


def test_change_sequence_equals_snapshot_version() -> None:
    data = copy.deepcopy(PAYLOADS["TableOrderSnapshotChanged"])
    data["sequence"] = 4
    assert "snapshot.version must equal sequence" in _error(TableOrderSnapshotChanged, data)


def test_order_closed_change_has_a_closed_snapshot_and_no_lines() -> None:
    data = copy.deepcopy(PAYLOADS["TableOrderSnapshotChanged"])
    data["changeType"] = "ORDER_CLOSED"
    assert "ORDER_CLOSED carries no lines" in _error(TableOrderSnapshotChanged, data)
    data["lines"] = []
    assert "CLOSED exactly in an ORDER_CLOSED" in _error(TableOrderSnapshotChanged, data)
    data["snapshot"]["orderStatus"] = "CLOSED"
    closed = TableOrderSnapshotChanged.model_validate(data)
    assert closed.snapshot.lines[0].origin is LineOrigin.POS
