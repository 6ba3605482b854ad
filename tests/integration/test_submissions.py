"""OrderSubmissionRequested -> OrderSubmissionResult through RabbitMQ and the mock POS
(contract §4.3, §4.4, §5): every reason, both policies, and never applied twice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adapter.settings import Settings, SubmissionPolicy
from adapter.testing import OpenAppClient, Received
from handlers.watcher import ChangeMode
from pos_drivers.mock import MockPosControl
from tests.integration.conftest import StartAdapter, eventually
from tests.integration.test_process import AdapterProcess

pytestmark = pytest.mark.rabbitmq

SUBMIT = "OrderSubmissionRequested"
SNAPSHOT = "TableOrderSnapshotRequested"


def item(line_id: str, product: str, quantity: int, price: int, **extra: Any) -> dict[str, Any]:
    return {"lineId": line_id, "productId": product, "quantity": quantity, "unitPrice": price,
            "notes": None, "modifiers": [], **extra}


def submission(
    table: str, items: list[dict[str, Any]], *, submission_id: str | None = None,
    session: str = "s-1", **extra: Any,
) -> dict[str, Any]:
    return {
        "submissionId": submission_id or f"sub-{uuid.uuid4().hex[:10]}",
        "orderContext": {"type": "TABLE", "posTableId": table, "tableSessionId": session},
        "items": items,
        "payment": None,
        **extra,
    }


async def submit(openapp: OpenAppClient, payload: dict[str, Any], **kw: Any) -> Received:
    return await openapp.result_for(await openapp.send(SUBMIT, payload, **kw), timeout=15)


async def open_lines(pos: MockPosControl, table: str) -> list[dict[str, Any]]:
    state = await pos.table(table)
    return list(state["open"]["lines"]) if state["open"] else []


def accepted_ids(result: Received) -> list[str]:
    return [x["lineId"] for x in result.payload["acceptedItems"]]


def rejected(result: Received) -> dict[str, dict[str, Any]]:
    return {x["lineId"]: x for x in result.payload["rejectedItems"]}


async def test_items_go_onto_a_new_check(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    payload = submission("T1", [item("a", "ceviche", 2, 3500, notes="sin cebolla"),
                                item("b", "chicha", 1, 900)])

    result = await submit(openapp, payload)

    assert result.payload["outcome"] == "ACCEPTED"
    assert result.payload["rejection"] is None
    assert result.payload["submissionId"] == payload["submissionId"]
    assert result.payload["orderContext"] == payload["orderContext"]
    lines = await open_lines(pos, "T1")
    assert result.payload["posOrderId"] == (await pos.table("T1"))["open"]["orderId"]
    assert [(x["productId"], x["quantity"], x["externalRef"]) for x in lines] == [
        ("ceviche", 2, f"{payload['submissionId']}:a"),
        ("chicha", 1, f"{payload['submissionId']}:b"),
    ]
    assert lines[0]["notes"] == "sin cebolla"
    assert result.payload["acceptedItems"] == [
        {"lineId": "a", "posLineId": lines[0]["lineId"], "quantity": 2, "unitPrice": 3500},
        {"lineId": "b", "posLineId": lines[1]["lineId"], "quantity": 1, "unitPrice": 900},
    ]


async def test_every_item_reason_under_the_partial_policy(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    await pos.set_product("causa", available=False)
    await pos.set_product("suspiro", stock=0)
    payload = submission("T2", [
        item("ok", "ceviche", 1, 3500),
        item("unknown", "sushi", 1, 1000),
        item("delisted", "causa", 1, 2200),
        item("out", "suspiro", 1, 1500),
        item("short", "anticuchos", 11, 2800),
        item("price", "lomo-saltado", 1, 3900),
    ])

    result = await submit(openapp, payload)

    assert result.payload["outcome"] == "PARTIALLY_ACCEPTED"
    assert accepted_ids(result) == ["ok"]
    why = rejected(result)
    assert {k: v["reason"] for k, v in why.items()} == {
        "unknown": "UNKNOWN_PRODUCT", "delisted": "DELISTED", "out": "OUT_OF_STOCK",
        "short": "INSUFFICIENT_STOCK", "price": "PRICE_CHANGED",
    }
    assert why["short"]["availableQuantity"] == 10
    assert why["price"]["currentUnitPrice"] == 4200
    assert all(v["retryable"] is False for v in why.values())
    assert [x["productId"] for x in await open_lines(pos, "T2")] == ["ceviche"]


async def test_the_atomic_policy_rejects_the_whole_batch(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    async with start_adapter(submission_policy=SubmissionPolicy.ATOMIC):
        result = await submit(openapp, submission("T3", [
            item("ok", "ceviche", 1, 3500), item("price", "chicha", 1, 800)]))

    assert result.payload["outcome"] == "REJECTED"
    assert result.payload["acceptedItems"] == []
    assert {k: v["reason"] for k, v in rejected(result).items()} == {
        "ok": "BATCH_REJECTED", "price": "PRICE_CHANGED"}
    assert await open_lines(pos, "T3") == []


async def test_every_item_rejected_is_a_rejected_outcome(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    result = await submit(openapp, submission("T4", [item("x", "sushi", 1, 100)]))

    assert result.payload["outcome"] == "REJECTED"
    assert rejected(result)["x"]["reason"] == "UNKNOWN_PRODUCT"
    assert await pos.table("T4") == {"open": None, "closed": []}


@pytest.mark.parametrize(("items", "fields"), [
    pytest.param([item("a", "ceviche", 100, 3500)], ["payload.items[0].quantity"], id="quantity"),
    pytest.param([item("a", "ceviche", 1, 3500), item("a", "chicha", 1, 900)],
                 ["payload.items[1].lineId"], id="duplicate-line-id"),
    pytest.param([item(f"l{n}", "chicha", 1, 900) for n in range(101)], ["payload.items"],
                 id="too-many-items"),
    pytest.param([item("a", "ceviche", 1, 3500, notes="x" * 501)], ["payload.items[0].notes"],
                 id="notes-too-long"),
    pytest.param([], ["payload.items"], id="no-items"),
])
async def test_structural_errors_are_invalid_requests_naming_the_fields(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl,
    items: list[dict[str, Any]], fields: list[str],
) -> None:
    result = await submit(openapp, submission("T5", items))

    rejection = result.payload["rejection"]
    assert rejection["reason"] == "INVALID_REQUEST"
    for field in fields:
        assert field in rejection["message"]
    assert await pos.table("T5") == {"open": None, "closed": []}


async def test_prepaid_and_other_contexts_are_unsupported(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    prepaid = submission("T6", [item("a", "ceviche", 1, 3500)], payment={
        "paymentId": "pay-1", "amount": 3500, "currency": "PEN", "method": "card",
        "paidAt": "2026-11-21T19:00:00Z"})
    takeaway = submission("T6", [item("a", "ceviche", 1, 3500)])
    takeaway["orderContext"] = {"type": "TAKEAWAY"}

    for payload in (prepaid, takeaway):
        result = await submit(openapp, payload)
        assert result.payload["rejection"]["reason"] == "UNSUPPORTED_ORDER_CONTEXT"
        assert rejected(result)["a"]["reason"] == "BATCH_REJECTED"
    assert await pos.table("T6") == {"open": None, "closed": []}


async def test_unknown_table(adapter: Any, openapp: OpenAppClient) -> None:
    result = await submit(openapp, submission("T77", [item("a", "ceviche", 1, 3500)]))

    assert result.payload["rejection"]["reason"] == "TABLE_NOT_FOUND"


async def test_the_same_submission_in_a_new_message_is_not_applied_twice(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    payload = submission("T7", [item("a", "pisco-sour", 2, 1800)])
    first = await submit(openapp, payload)
    second = await submit(openapp, payload)

    assert second.body["messageId"] != first.body["messageId"]
    assert second.payload == first.payload
    assert len(await open_lines(pos, "T7")) == 1


async def test_the_same_message_twice_gets_the_stored_result_again(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    payload = submission("T8", [item("a", "causa", 1, 2200)])
    message_id = str(uuid.uuid4())
    first = await submit(openapp, payload, message_id=message_id)

    await openapp.send(SUBMIT, payload, message_id=message_id)
    both = await openapp.wait_count(
        lambda m: m.body.get("correlationId") == message_id and m.message_type.endswith("Result"),
        2,
    )

    assert both[1].body == first.body
    assert len(await open_lines(pos, "T8")) == 1


async def test_pos_unavailable_is_retryable_and_a_retry_completes_it(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    payload = submission("T9", [item("a", "ceviche", 1, 3500)])
    await pos.set_faults(down=True)

    first = await submit(openapp, payload)
    await pos.set_faults(down=False)
    second = await submit(openapp, payload)

    assert first.payload["rejection"]["reason"] == "POS_UNAVAILABLE"
    assert first.payload["rejection"]["retryable"] is True
    assert second.payload["outcome"] == "ACCEPTED"
    assert len(await open_lines(pos, "T9")) == 1


async def test_a_submission_that_timed_out_but_went_through_is_reconciled(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    # The POS applies the lines, then answers after the deadline: the adapter cannot know.
    payload = submission("T10", [item("a", "chicha", 3, 900), item("b", "sushi", 1, 10)])
    async with start_adapter(pos_deadline=0.6, pos_request_timeout=0.3):
        await pos.set_faults(latency_ms=1500)
        first = await submit(openapp, payload)
        await pos.set_faults(latency_ms=0)
        second = await submit(openapp, payload)

    assert first.payload["rejection"]["reason"] == "POS_UNAVAILABLE"
    assert second.payload["outcome"] == "PARTIALLY_ACCEPTED"
    assert accepted_ids(second) == ["a"]
    assert rejected(second)["b"]["reason"] == "UNKNOWN_PRODUCT"
    lines = await open_lines(pos, "T10")
    assert [(x["productId"], x["quantity"]) for x in lines] == [("chicha", 3)]
    assert second.payload["acceptedItems"][0]["posLineId"] == lines[0]["lineId"]


async def test_a_closed_session_is_answered_order_closed_after_its_changes(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    await pos.add_waiter_lines("T11", [{"productId": "causa", "quantity": 1}])
    opened = await openapp.result_for(await openapp.send(
        SNAPSHOT, {"posTableId": "T11", "tableSessionId": "s-11"}))
    stream_id = opened.payload["streamId"]
    await pos.close_table("T11")

    result = await submit(openapp, submission("T11", [item("a", "ceviche", 1, 3500)],
                                              session="s-11"))
    [closed] = await openapp.wait_changes(stream_id, 1)

    assert result.payload["rejection"]["reason"] == "ORDER_CLOSED"
    assert closed.payload["changeType"] == "ORDER_CLOSED"
    assert openapp.received.index(closed) < openapp.received.index(result)
    assert (await pos.table("T11"))["open"] is None
    # The ended session stays ended, even once the table has a new check.
    await pos.add_waiter_lines("T11", [{"productId": "chicha", "quantity": 1}])
    again = await submit(openapp, submission("T11", [item("a", "ceviche", 1, 3500)],
                                             session="s-11"))
    assert again.payload["rejection"]["reason"] == "ORDER_CLOSED"


@pytest.mark.parametrize("mode", [ChangeMode.PUSH, ChangeMode.POLL])
async def test_submitted_lines_are_not_echoed_as_pos_lines(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl, mode: ChangeMode
) -> None:
    async with start_adapter(change_mode=mode):
        opened = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "T12", "tableSessionId": "s-12"}))
        stream_id = opened.payload["streamId"]
        result = await submit(openapp, submission("T12", [item("oa-1", "ceviche", 1, 3500)],
                                                  session="s-12"))
        pos_line = result.payload["acceptedItems"][0]["posLineId"]

        await pos.add_waiter_lines("T12", [{"productId": "inca-kola", "quantity": 1}])
        await pos.patch_line(pos_line, status="READY")
        changes = await openapp.wait_changes(stream_id, 2)
        later = await openapp.result_for(await openapp.send(
            SNAPSHOT, {"posTableId": "T12", "tableSessionId": "s-12"}))

    assert result.payload["outcome"] == "ACCEPTED"
    # The submission opened the check: neither ORDER_OPENED nor POS_LINE_ADDED for it.
    assert [c.payload["changeType"] for c in changes] == ["POS_LINE_ADDED", "LINE_STATUS_CHANGED"]
    assert [x["productId"] for x in changes[0].payload["lines"]] == ["inca-kola"]
    assert [c.payload["sequence"] for c in changes] == [1, 2]
    ready = changes[1].payload["lines"][0]
    assert (ready["origin"], ready["openAppLineId"], ready["status"]) == ("OPENAPP", "oa-1",
                                                                         "READY")
    origins = {x["productId"]: (x["origin"], x["openAppLineId"])
               for x in later.payload["snapshot"]["lines"]}
    assert origins == {"ceviche": ("OPENAPP", "oa-1"), "inca-kola": ("POS", None)}


async def test_commands_for_one_table_are_handled_in_arrival_order(
    adapter: Any, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    first = await openapp.send(SUBMIT, submission("T13", [item("a", "ceviche", 1, 3500)]))
    second = await openapp.send(SUBMIT, submission("T13", [item("b", "chicha", 1, 900)]))
    snapshot = await openapp.send(SNAPSHOT, {"posTableId": "T13", "tableSessionId": "s"})

    results = [await openapp.result_for(m) for m in (first, second, snapshot)]

    positions = [openapp.received.index(r) for r in results]
    assert positions == sorted(positions)
    lines = results[2].payload["snapshot"]["lines"]
    assert [(x["productId"], x["origin"]) for x in lines] == [("ceviche", "OPENAPP"),
                                                              ("chicha", "OPENAPP")]


async def test_kill_9_during_the_pos_call_applies_the_lines_exactly_once(
    process_settings: Settings, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    payload = submission("T14", [item("a", "lomo-saltado", 1, 4200),
                                 item("b", "pisco-sour", 2, 1800)])
    # Every POS answer stalls (a change is applied first): the read and the product list
    # take 2 s each, then the lines land and the adapter is killed while it waits.
    await pos.set_faults(latency_ms=2000)
    adapter = AdapterProcess(process_settings, POS_ADAPTER_POS_DEADLINE="8",
                             POS_ADAPTER_POS_REQUEST_TIMEOUT="8")
    await adapter.start()
    message_id = await openapp.send(SUBMIT, payload)

    async def lines_on_pos() -> bool:
        return len(await open_lines(pos, "T14")) == 2

    await eventually(lines_on_pos, timeout=20)
    await adapter.kill()  # the call is still in flight
    await pos.set_faults(latency_ms=0)
    restarted = AdapterProcess(process_settings)
    await restarted.start()
    try:
        result = await openapp.result_for(message_id, timeout=20)
    finally:
        assert await restarted.terminate() == 0

    lines = await open_lines(pos, "T14")
    assert [(x["productId"], x["quantity"]) for x in lines] == [("lomo-saltado", 1),
                                                                ("pisco-sour", 2)]
    assert result.payload["outcome"] == "ACCEPTED"
    assert [x["posLineId"] for x in result.payload["acceptedItems"]] == [
        x["lineId"] for x in lines]


async def test_what_the_pos_refuses_after_the_check_gets_the_pos_reasons(
    start_adapter: StartAdapter, openapp: OpenAppClient, pos: MockPosControl
) -> None:
    # The adapter checks against a product list it read earlier; the POS has moved on.
    async with start_adapter(product_cache_ttl=60):
        await submit(openapp, submission("T15", [item("warm-up", "chicha", 1, 900)]))
        await pos.set_product("ceviche", price=3900)
        await pos.set_product("suspiro", available=False)

        result = await submit(openapp, submission("T16", [
            item("a", "ceviche", 1, 3500), item("b", "suspiro", 1, 1500),
            item("c", "causa", 2, 2200)]))

    assert result.payload["outcome"] == "PARTIALLY_ACCEPTED"
    assert accepted_ids(result) == ["c"]
    why = rejected(result)
    assert (why["a"]["reason"], why["a"]["currentUnitPrice"]) == ("PRICE_CHANGED", 3900)
    assert why["b"]["reason"] == "DELISTED"
    assert [x["productId"] for x in await open_lines(pos, "T16")] == ["causa"]
