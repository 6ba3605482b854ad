"""What ``replay`` would publish, and with which properties (no broker)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from adapter.amqp import message_properties
from adapter.ops.replay import plan
from adapter.settings import Settings
from adapter.store import SqlStore, StoredMessage
from schemas import REPLAY_HEADER
from tests.ops.test_messages import cli, cli_json

AT = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
SETTINGS = Settings(location_id="here")
COMMAND_BODY = json.dumps({"messageId": "cmd-1", "messageType": "TableOrderSnapshotRequested",
                           "payload": {"posTableId": "T1"}}).encode()


def outgoing(message_id: str = "res-1") -> StoredMessage:
    body = json.dumps({"messageId": message_id}).encode()
    return StoredMessage(
        direction="out", row_id=7, location_id="here", message_id=message_id,
        message_type="TableOrderSnapshotResolutionResult", pos_table_id="T1",
        correlation_id="cmd-1", at=AT, body=body, sent_at=AT, occurred_at=AT,
    )


def incoming(**changes: object) -> StoredMessage:
    message = StoredMessage(
        direction="in", row_id=3, location_id="here", message_id="cmd-1",
        message_type="TableOrderSnapshotRequested", pos_table_id="T1", correlation_id=None,
        at=AT, body=COMMAND_BODY, outcome="RESOLVED", result_message_id="res-1",
        properties={
            "message_id": "cmd-1", "type": "TableOrderSnapshotRequested",
            "content_type": "application/json", "delivery_mode": 1, "user_id": "openapp",
            "expiration": "60000", "timestamp": AT.isoformat(), "app_id": "openapp",
            "headers": {"schemaVersion": 1, "x-death": [{"count": 1}],
                        "x-delivery-count": 2},
            "routing_key": "here.TableOrderSnapshotRequested", "redelivered": True,
        },
    )
    return replace(message, **changes)  # type: ignore[arg-type]


def test_an_outgoing_message_goes_to_the_events_exchange_as_the_relay_sends_it() -> None:
    message = outgoing()

    [step], skipped = plan([message], SETTINGS, reprocess=False)

    assert skipped == []
    assert step.exchange == "openapp.events"
    assert step.routing_key == "here.TableOrderSnapshotResolutionResult"
    assert step.message_id == "res-1"
    assert step.body == message.body
    assert step.properties == message_properties(message.outbox_row())
    assert step.replay_of is None


def test_a_command_goes_back_with_its_body_messageid_and_properties() -> None:
    [step], _ = plan([incoming()], SETTINGS, reprocess=False)

    assert step.exchange == "openapp.commands"
    assert step.routing_key == "here.TableOrderSnapshotRequested"
    assert step.body == COMMAND_BODY
    properties = step.properties
    assert properties.message_id == "cmd-1"
    assert properties.message_type == "TableOrderSnapshotRequested"
    assert properties.delivery_mode == 2
    assert properties.app_id == "openapp"
    assert properties.timestamp == AT
    assert properties.headers == {"schemaVersion": 1}  # the broker's own headers are gone
    assert properties.user_id is None
    assert properties.expiration is None


def test_a_reprocessed_command_gets_a_new_messageid_and_says_what_it_replays() -> None:
    [step], _ = plan([incoming()], SETTINGS, reprocess=True, new_id=lambda: "fresh")

    assert step.message_id == "fresh"
    assert step.replay_of == "cmd-1"
    assert json.loads(step.body) == {**json.loads(COMMAND_BODY), "messageId": "fresh"}
    assert step.properties.message_id == "fresh"
    assert step.properties.headers == {"schemaVersion": 1, REPLAY_HEADER: "cmd-1"}


def test_a_command_without_recorded_properties_gets_them_from_its_envelope() -> None:
    [step], _ = plan([incoming(properties=None)], SETTINGS, reprocess=False)

    assert step.properties.message_id == "cmd-1"
    assert step.properties.message_type == "TableOrderSnapshotRequested"
    assert step.properties.content_type == "application/json"
    assert step.properties.delivery_mode == 2


def test_each_message_is_replayed_once_and_the_unplayable_are_left_out() -> None:
    duplicate = incoming(outcome="DUPLICATE", row_id=4)
    poison = incoming(message_id=None, outcome="DEAD_LETTERED:body is not JSON", row_id=5)
    too_big = incoming(message_id="big", body=None, row_id=6)
    not_json = incoming(message_id="nj", body=b"{nope", row_id=8)

    steps, skipped = plan(
        [incoming(), outgoing(), duplicate, outgoing(), poison, too_big, not_json],
        SETTINGS, reprocess=True,
    )

    assert [(s.source.direction, s.replay_of or s.message_id) for s in steps] == [
        ("in", "cmd-1"), ("out", "res-1")]
    assert [(m.message_id, why.split(":")[0]) for m, why in skipped] == [
        (None, "no usable messageId or messageType"),
        ("big", "its body was not kept (over the size limit)"),
        ("nj", "not a JSON object"),
    ]


async def test_nothing_to_replay_without_a_filter_or_a_match(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
                        amqp_url="amqp://guest:guest@127.0.0.1:1/")  # never reached
    store = SqlStore(settings.store_url)
    await store.start()
    await store.close()

    (bare, _, bare_err), nothing = await asyncio.gather(
        cli(settings, "replay"),
        cli_json(settings, "replay", "--type", "NoSuchType", "--execute"),
    )

    assert bare == 2
    assert "say what to replay" in bare_err
    assert nothing == {"executed": True, "messages": [], "skipped": []}
