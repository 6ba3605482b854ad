"""The store on SQLite and PostgreSQL: migrations, group commit, inbox, outbox, streams."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from adapter.store import (
    AsyncConnection,
    MessageQuery,
    OutboxRow,
    SqlStore,
    StoreReader,
    _committer,
)
from handlers import (
    CreatedLine,
    DuplicateMessage,
    InboxRecord,
    JournalEntry,
    OutgoingMessage,
    StreamRecord,
    StreamStatus,
    SubmissionRecord,
    SubmissionState,
    WriteSet,
)
from schemas import OrderStatus, Snapshot, Totals

NOW = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)


def message(n: int, *, table: str = "T1") -> OutgoingMessage:
    body = json.dumps({
        "messageId": f"m-{n}", "messageType": "TableOrderSnapshotResolutionResult",
        "occurredAt": NOW.isoformat(), "correlationId": f"c-{n}",
        "payload": {"posTableId": table},
    }).encode()
    return OutgoingMessage(
        message_id=f"m-{n}", message_type="TableOrderSnapshotResolutionResult",
        location_id="loc", correlation_id=f"c-{n}", occurred_at=NOW, body=body,
        pos_table_id=table,
    )


def inbox(n: int, result: OutgoingMessage | None = None) -> InboxRecord:
    return InboxRecord(
        message_id=f"cmd-{n}", location_id="loc", message_type="TableOrderSnapshotRequested",
        pos_table_id="T1", received_at=NOW, outcome="RESOLVED", result=result,
    )


def entry(n: int) -> JournalEntry:
    return JournalEntry(
        location_id="loc", message_id=f"cmd-{n}", message_type="TableOrderSnapshotRequested",
        pos_table_id="T1", correlation_id=None, received_at=NOW, outcome="RESOLVED",
    )


def snapshot(table: str = "T1", version: int = 0) -> Snapshot:
    return Snapshot(
        pos_table_id=table, table_name="Mesa 1", pos_order_id=None,
        order_status=OrderStatus.NONE, currency="PEN",
        totals=Totals(subtotal=0, discount_total=0, tax_total=0, total=0),
        version=version, captured_at=NOW,
    )


def stream(stream_id: str = "st-1", *, table: str = "T1",
           status: StreamStatus = StreamStatus.ACTIVE, sequence: int = 0) -> StreamRecord:
    return StreamRecord(
        stream_id=stream_id, location_id="loc", pos_table_id=table, status=status,
        table_session_id="s-1", session_ids=("s-0", "s-1"), opening_message_id="cmd-1",
        last_sequence=sequence, baseline=snapshot(table, sequence), opened_at=NOW,
        updated_at=NOW,
    )


async def test_a_committed_write_set_reads_back(store: SqlStore) -> None:
    result = message(1)
    await store.commit(WriteSet(inbox=inbox(1, result), streams=[stream()], outbox=[result]))

    entry = await store.inbox_entry("cmd-1")
    assert entry is not None
    assert entry.result is not None
    assert entry.result.message_id == "m-1"
    assert entry.result.body == result.body
    active = await store.active_stream("loc", "T1")
    assert active == stream()
    assert await store.stream_for_session("loc", "T1", "s-0") == stream()
    assert await store.stream_for_session("loc", "T1", "nope") is None
    rows = await store.outbox_from(None)
    assert [row.message.message_id for row in rows] == ["m-1"]


async def test_a_duplicate_inbox_row_fails_only_its_own_write_set(store: SqlStore) -> None:
    await store.commit(WriteSet(inbox=inbox(1, message(1)), outbox=[message(1)]))

    outcomes = await asyncio.gather(
        store.commit(WriteSet(inbox=inbox(1, message(2)), outbox=[message(2)])),
        store.commit(WriteSet(inbox=inbox(3, message(3)), outbox=[message(3)])),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], DuplicateMessage)
    assert outcomes[1] is None
    ids = [row.message.message_id for row in await store.outbox_from(None)]
    assert ids == ["m-1", "m-3"]


async def test_a_duplicate_in_a_mixed_batch_writes_nothing_of_its_own(store: SqlStore) -> None:
    await store.commit(WriteSet(inbox=inbox(1, message(1)), outbox=[message(1)]))
    seen: list[OutboxRow] = []
    store.on_outbox(seen.extend)

    # One batch: a repeat of cmd-1 with a stream, a submission and a journal entry of
    # its own, a new command, the same new command again, and a write set without inbox.
    outcomes = await asyncio.gather(
        store.commit(WriteSet(inbox=inbox(1, message(2)), streams=[stream()],
                              journal=[entry(1)], outbox=[message(2)])),
        store.commit(WriteSet(inbox=inbox(3, message(3)), journal=[entry(3)],
                              outbox=[message(3)])),
        store.commit(WriteSet(inbox=inbox(3, message(4)), outbox=[message(4)])),
        store.commit(WriteSet(outbox=[message(5)])),
        return_exceptions=True,
    )

    assert [type(o).__name__ for o in outcomes] == [
        "DuplicateMessage", "NoneType", "DuplicateMessage", "NoneType"]
    assert [row.message.message_id for row in seen] == ["m-3", "m-5"]
    assert [row.message.message_id for row in await store.outbox_from(None)] == [
        "m-1", "m-3", "m-5"]
    assert await store.active_stream("loc", "T1") is None
    async with StoreReader(store.url) as reader:
        journal = await reader.messages(MessageQuery(direction="in"))
    assert [m.message_id for m in journal] == ["cmd-3"]
    first = await store.inbox_entry("cmd-1")
    assert first is not None
    assert first.result is not None
    assert first.result.message_id == "m-1"


async def test_a_result_another_process_committed_refuses_the_commit(
    store: SqlStore, store_url: str
) -> None:
    other = SqlStore(store_url)  # the adapter that served the location before (a fleet)
    await other.start()
    try:
        await other.commit(WriteSet(inbox=inbox(7, message(7)), outbox=[message(7)]))
    finally:
        await other.close()

    with pytest.raises(DuplicateMessage):
        await store.commit(WriteSet(inbox=inbox(7, message(8)), outbox=[message(8)]))
    assert [r.message.message_id for r in await store.outbox_from(None)] == ["m-7"]


async def test_write_sets_in_a_batch_with_a_job(store: SqlStore) -> None:
    await store.commit(WriteSet(inbox=inbox(1, message(1)), outbox=[message(1)]))
    seen: list[OutboxRow] = []
    store.on_outbox(seen.extend)

    async def job(conn: AsyncConnection) -> int:
        return int((await conn.execute(text("SELECT 7"))).scalar_one())

    # A batch with a job goes through the async engine's connection (on SQLite too).
    outcomes = await asyncio.gather(
        store.commit(WriteSet(inbox=inbox(1, message(2)), outbox=[message(2)])),
        store.run_in_transaction(job),
        store.commit(WriteSet(inbox=inbox(2, message(3)), journal=[entry(2)],
                              outbox=[message(3)])),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], DuplicateMessage)
    assert outcomes[1:] == [7, None]
    assert [row.message.message_id for row in seen] == ["m-3"]
    store.mark_sent([seen[0].id])
    await store.run_in_transaction(job)  # the marks ride on it
    assert await store.outbox_backlog() == 1  # m-1


async def test_concurrent_commits_are_grouped_and_keep_their_order(store: SqlStore) -> None:
    seen: list[OutboxRow] = []
    store.on_outbox(seen.extend)

    await asyncio.gather(*(store.commit(WriteSet(outbox=[message(n)])) for n in range(50)))

    assert [row.message.message_id for row in seen] == [f"m-{n}" for n in range(50)]
    assert [row.id for row in seen] == sorted(row.id for row in seen)


async def test_after_a_batch_of_several_a_transaction_waits_for_as_many_write_sets(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_committer, "GATHER_DELAY", 60.0)  # only the write sets end a wait
    transactions: list[list[str]] = []
    store.on_outbox(lambda rows: transactions.append([r.message.message_id for r in rows]))
    await asyncio.gather(*(store.commit(WriteSet(outbox=[message(n)])) for n in range(3)))

    first = asyncio.ensure_future(store.commit(WriteSet(outbox=[message(3)])))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not first.done()  # waiting for two more, as the last batch had three
    await asyncio.wait_for(asyncio.gather(
        first, *(store.commit(WriteSet(outbox=[message(n)])) for n in (4, 5))
    ), 10)

    assert transactions == [["m-0", "m-1", "m-2"], ["m-3", "m-4", "m-5"]]


async def test_one_command_at_a_time_never_waits_for_others(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_committer, "GATHER_DELAY", 60.0)
    for n in range(5):
        await asyncio.wait_for(store.commit(WriteSet(outbox=[message(n)])), 10)
    assert await store.outbox_backlog() == 5


async def test_sent_rows_are_not_owed_but_a_reload_resends_from_a_given_row(
    store: SqlStore,
) -> None:
    seen: list[OutboxRow] = []
    store.on_outbox(seen.extend)
    for n in range(4):
        await store.commit(WriteSet(outbox=[message(n)]))

    store.mark_sent([seen[0].id, seen[1].id, seen[3].id])
    await store.commit(WriteSet())  # the marks ride on the next group commit

    assert await store.outbox_backlog() == 1
    owed = await store.outbox_from(None)
    assert [row.message.message_id for row in owed] == ["m-2", "m-3"]
    again = await store.outbox_from(seen[1].id)
    assert [row.message.message_id for row in again] == ["m-1", "m-2", "m-3"]


async def test_one_active_stream_per_table(store: SqlStore) -> None:
    await store.commit(WriteSet(streams=[stream("st-1")]))

    with pytest.raises(Exception):  # noqa: B017, PT011 - the dialects raise different errors
        await store.commit(WriteSet(streams=[stream("st-2")]))

    closed = stream("st-1", status=StreamStatus.CLOSED, sequence=3)
    await store.commit(WriteSet(streams=[closed, stream("st-2")]))
    active = await store.active_stream("loc", "T1")
    assert active is not None
    assert active.stream_id == "st-2"
    assert [s.stream_id for s in await store.active_streams("loc")] == ["st-2"]


async def test_submission_round_trip(store: SqlStore) -> None:
    record = SubmissionRecord(
        submission_id="sub-1", location_id="loc", pos_table_id="T1", table_session_id="s-1",
        message_id="cmd-1", state=SubmissionState.SUBMITTING, outcome=None, result_payload=None,
        plan=b'{"rejected": []}', created_lines=(), pos_order_id=None, created_at=NOW,
        updated_at=NOW,
    )
    await store.commit(WriteSet(submissions=[record]))
    done = replace(
        record, message_id="cmd-2", state=SubmissionState.DONE, outcome="ACCEPTED",
        result_payload=b"{}", created_lines=(CreatedLine("oa-1", "ln-1"),),
        pos_order_id="ord-1", updated_at=NOW + timedelta(seconds=1),
    )
    await store.commit(WriteSet(submissions=[done]))

    stored = await store.submission("loc", "sub-1")
    assert stored == done
    assert await store.submissions_by_ids("loc", ["sub-1", "sub-x"]) == [done]


async def test_redeliveries_are_counted(store: SqlStore) -> None:
    assert await store.count_redelivery("cmd-9") == 1
    assert await store.count_redelivery("cmd-9") == 2
    # The command is then answered: the counting row becomes its inbox row.
    await store.commit(WriteSet(inbox=InboxRecord(
        message_id="cmd-9", location_id="loc", message_type="TableOrderSnapshotRequested",
        pos_table_id="T1", received_at=NOW, outcome="RESOLVED", result=message(9))))
    entry = await store.inbox_entry("cmd-9")
    assert entry is not None
    assert entry.outcome == "RESOLVED"


async def test_prune_forgets_old_sent_rows_and_handled_messages(store: SqlStore) -> None:
    seen: list[OutboxRow] = []
    store.on_outbox(seen.extend)
    await store.commit(WriteSet(inbox=inbox(1, message(1)), outbox=[message(1), message(2)]))
    store.mark_sent([seen[0].id])
    await store.commit(WriteSet())

    await store.prune(datetime.now(UTC) + timedelta(seconds=1))

    assert await store.inbox_entry("cmd-1") is None
    assert [r.message.message_id for r in await store.outbox_from(None)] == ["m-2"]
    # Forgotten means forgotten: the messageId is new again (the cache let it go too).
    await store.commit(WriteSet(inbox=inbox(1, message(3)), outbox=[message(3)]))
    entry = await store.inbox_entry("cmd-1")
    assert entry is not None
    assert entry.result is not None
    assert entry.result.message_id == "m-3"
