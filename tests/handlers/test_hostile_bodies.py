"""Whatever bytes arrive, the command ends in a result or a dead letter with its reason,
and the journal keeps it, on SQLite and PostgreSQL (contract §5; the text rule of
``schemas._text``). Hypothesis draws commands whose strings may hold anything JSON can
carry, lone surrogates and NUL included, and whose fields may hold any JSON value."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from adapter.store._tables import journal
from adapter.testing import command
from handlers import Ack, DeadLetter
from tests.handlers.conftest import LOCATION, Harness, open_harness

# Every code point, with a bias towards what breaks encoders and databases.
UNSTORABLE = "\x00\ud800\udbff\udc00\udfff"
anything = st.text(
    st.sampled_from(UNSTORABLE) | st.characters(codec=None, categories=None), max_size=12
)
identifiers = st.one_of(
    st.sampled_from(["T1", "T2", "s-1", "ceviche", "l1"]), anything.filter(bool)
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), anything,
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(anything, inner,
                                                                           max_size=3),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``strategy``, sometimes any JSON value at all."""
    return st.one_of(strategy, strategy, strategy, json_values)


@st.composite
def payloads(draw: st.DrawFn, message_type: str) -> Any:
    context = {"type": draw(maybe(st.just("TABLE"))), "posTableId": draw(maybe(identifiers)),
               "tableSessionId": draw(maybe(identifiers))}
    if message_type == "TableOrderSnapshotRequested":
        payload = {k: v for k, v in context.items() if k != "type"}
    else:
        items = draw(st.lists(st.fixed_dictionaries({
            "lineId": maybe(identifiers), "productId": maybe(st.sampled_from(["ceviche",
                                                                              "chicha"])),
            "quantity": maybe(st.integers(1, 3)), "unitPrice": maybe(st.just(3500)),
            "notes": maybe(st.none() | anything), "modifiers": maybe(st.just([])),
        }), max_size=3))
        payload = {"submissionId": draw(maybe(identifiers)), "orderContext": context,
                   "items": items}
    extra = draw(st.dictionaries(anything, json_values, max_size=2))
    return draw(maybe(st.just({**extra, **payload})))


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    message_type = draw(st.sampled_from(
        ["TableOrderSnapshotRequested", "OrderSubmissionRequested"]))
    envelope = {
        "messageId": draw(maybe(identifiers)),
        "messageType": draw(maybe(st.just(message_type))),
        "schemaVersion": draw(maybe(st.just(1))),
        "locationId": draw(maybe(st.just(LOCATION))),
        "occurredAt": draw(maybe(st.just(datetime.now(UTC).isoformat()))),
        "correlationId": draw(maybe(st.none() | identifiers)),
        "expiresAt": draw(maybe(st.none())),
        "payload": draw(payloads(message_type)),
    }
    # ensure_ascii: lone surrogates travel as the escapes a JSON parser accepts.
    return json.dumps(envelope, ensure_ascii=True).encode()


def _known(**fields: str) -> bytes:
    """A submission with ``fields`` set where they belong (the faults seen in the field)."""
    payload: dict[str, Any] = {
        "submissionId": "sub-1",
        "orderContext": {"type": "TABLE", "posTableId": fields.get("posTableId", "T1"),
                         "tableSessionId": fields.get("tableSessionId", "s-1")},
        "items": [{"lineId": "l1", "productId": "ceviche", "quantity": 1, "unitPrice": 3500,
                   "notes": fields.get("notes")}],
    }
    body = command("OrderSubmissionRequested", payload, location_id=LOCATION,
                   message_id=fields.get("messageId", f"m-{sorted(fields)}"))
    body["correlationId"] = fields.get("correlationId")
    return json.dumps(body, ensure_ascii=True).encode()


async def journaled(harness: Harness) -> int:
    rows = await harness.store._fetch(select(func.count()).select_from(journal))
    return int(rows[0][0])


def check_answer(harness: Harness, body: bytes, disposition: Ack | DeadLetter) -> None:
    if isinstance(disposition, DeadLetter):
        assert disposition.reason
        return
    message_id = json.loads(body)["messageId"]
    results = harness.results_for(message_id)
    assert results, "an acked command has a result"
    for result in results:
        json.dumps(result, ensure_ascii=False).encode("utf-8")  # text a consumer can read
        assert result["payload"]["outcome"] in {"RESOLVED", "REJECTED", "ACCEPTED",
                                                "PARTIALLY_ACCEPTED"}


def test_every_body_ends_in_a_result_or_a_dead_letter_and_is_journaled(
    store_url: str,
) -> None:
    """``store_url``: a SQLite file, then a PostgreSQL database (see the root conftest)."""
    seen: list[bytes] = []
    with asyncio.Runner() as runner:
        opened = open_harness(store_url)
        harness = runner.run(opened.__aenter__())
        try:

            @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
            @given(body=bodies())
            @example(body=_known(posTableId="T\ud800"))
            @example(body=_known(tableSessionId="s\x00"))
            @example(body=_known(correlationId="c\udfff"))
            @example(body=_known(messageId="m\ud800"))
            @example(body=_known(notes="sin cebolla\x00\udc00"))
            def one_body(body: bytes) -> None:
                seen.append(body)
                check_answer(harness, body, runner.run(harness.dispatch(body)))

            one_body()
            assert runner.run(journaled(harness)) == len(seen)
        finally:
            runner.run(opened.__aexit__(None, None, None))
