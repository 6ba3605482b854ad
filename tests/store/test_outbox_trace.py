"""An outbox row keeps the trace context of the command that caused it, in the store:
the relay, after a restart too, publishes it as the message's headers."""

from __future__ import annotations

from adapter import tracing
from adapter.amqp import message_properties
from adapter.store import OutboxRow, SqlStore
from adapter.tracing import TraceContext
from handlers import WriteSet
from tests.store.test_store import message

CONTEXT = TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       "openapp=t61,rojo=00f067aa0ba902b7")


async def commit_in(context: TraceContext | None, store: SqlStore, n: int) -> None:
    token = tracing.current.set(context)
    try:
        await store.commit(WriteSet(outbox=[message(n)]))
    finally:
        tracing.current.reset(token)


async def test_rows_keep_the_context_of_the_task_that_committed_them(store: SqlStore) -> None:
    notified: list[OutboxRow] = []
    store.on_outbox(notified.extend)

    await commit_in(CONTEXT, store, 1)
    await commit_in(None, store, 2)

    read = await store.outbox_from(None)  # what a relay reads after a restart
    for rows in (notified, read):
        assert [(row.message.message_id, row.trace) for row in rows] == [
            ("m-1", CONTEXT), ("m-2", None),
        ]
    traced, plain = (message_properties(row).headers for row in read)
    assert traced == {"schemaVersion": 1, **CONTEXT.headers()}
    assert plain == {"schemaVersion": 1}
