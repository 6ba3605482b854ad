"""What the handlers keep in the store, and the store interface they see.

The handlers never see SQL: they read records through :class:`Store` and hand a
:class:`WriteSet` to ``Store.commit``, which writes it in one transaction (the adapter
groups concurrent write sets into one commit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from schemas import Snapshot


class StreamStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    EXPIRED = "EXPIRED"


class SubmissionState(StrEnum):
    RECEIVED = "RECEIVED"
    SUBMITTING = "SUBMITTING"
    DONE = "DONE"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message owed to OpenApp: the exact bytes and the AMQP properties they need."""

    message_id: str
    message_type: str
    location_id: str
    correlation_id: str | None
    occurred_at: datetime
    body: bytes
    pos_table_id: str | None = None

    @property
    def routing_key(self) -> str:
        return f"{self.location_id}.{self.message_type}"

    @classmethod
    def from_body(cls, body: bytes, *, location_id: str) -> OutgoingMessage:
        """Rebuild a stored message from its JSON envelope (to publish it again)."""
        envelope = json.loads(body)
        payload = envelope.get("payload") or {}
        return cls(
            message_id=envelope["messageId"],
            message_type=envelope["messageType"],
            location_id=location_id,
            correlation_id=envelope.get("correlationId"),
            occurred_at=datetime.fromisoformat(envelope["occurredAt"]),
            body=body,
            pos_table_id=payload.get("posTableId"),
        )


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """A command handled, with the result it got (published again for a duplicate)."""

    message_id: str
    location_id: str
    message_type: str
    pos_table_id: str | None
    received_at: datetime
    outcome: str
    result: OutgoingMessage | None


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One table's change stream; ``baseline`` is the snapshot at ``last_sequence``."""

    stream_id: str
    location_id: str
    pos_table_id: str
    status: StreamStatus
    table_session_id: str | None
    session_ids: tuple[str, ...]
    opening_message_id: str
    last_sequence: int
    baseline: Snapshot
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedLine:
    """A POS line a submission created: the submitted lineId and the POS's id."""

    line_id: str
    pos_line_id: str


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """An order submission.

    ``plan`` (JSON) is what was decided before the POS call: the items refused before it
    and the check expected; ``result_payload`` is the stored result payload once DONE.
    """

    submission_id: str
    location_id: str
    pos_table_id: str
    table_session_id: str | None
    message_id: str
    state: SubmissionState
    outcome: str | None
    result_payload: bytes | None
    plan: bytes | None
    created_lines: tuple[CreatedLine, ...]
    pos_order_id: str | None
    created_at: datetime
    updated_at: datetime
    request_digest: str | None = None
    """What the submission asked for (``submission.request_digest``): a submissionId
    that comes back asking for something else is not this submission."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A message received, as it arrived, and what became of it.

    The journal is for people: ``pos-adapter messages`` reads it and ``pos-adapter replay``
    publishes from it. It is written with the command's inbox row (same transaction), so
    it never claims an outcome that was not committed. Poison may have no usable
    messageId; ``body`` and ``properties`` are None when the handler ran outside a delivery
    (tests calling a handler directly).
    """

    location_id: str
    message_id: str | None
    message_type: str | None
    pos_table_id: str | None
    correlation_id: str | None
    received_at: datetime
    outcome: str
    body: bytes | None = None
    properties: Mapping[str, Any] | None = None
    result_message_id: str | None = None


@dataclass(slots=True)
class WriteSet:
    """Everything one step of a handler writes, committed atomically."""

    inbox: InboxRecord | None = None
    streams: list[StreamRecord] = field(default_factory=list)
    submissions: list[SubmissionRecord] = field(default_factory=list)
    outbox: list[OutgoingMessage] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)

    def put_stream(self, stream: StreamRecord) -> None:
        """Write ``stream``, replacing an earlier write of it in this set."""
        self.streams = [s for s in self.streams if s.stream_id != stream.stream_id]
        self.streams.append(stream)


class DuplicateMessage(Exception):
    """The inbox already holds this messageId (another consumer got there first)."""


class Store(Protocol):
    async def inbox_entry(self, message_id: str) -> InboxRecord | None: ...

    async def active_stream(self, location_id: str, pos_table_id: str) -> StreamRecord | None: ...

    async def active_streams(self, location_id: str) -> list[StreamRecord]: ...

    async def active_stream_tables(self, location_id: str) -> list[tuple[str, datetime]]:
        """(posTableId, openedAt) of every active stream, without the baselines."""
        ...

    async def stream_for_session(
        self, location_id: str, pos_table_id: str, table_session_id: str
    ) -> StreamRecord | None:
        """The latest stream of the table that served ``table_session_id``."""
        ...

    async def submission(self, location_id: str, submission_id: str) -> SubmissionRecord | None: ...

    async def submissions_by_ids(
        self, location_id: str, submission_ids: list[str]
    ) -> list[SubmissionRecord]: ...

    async def count_redelivery(self, message_id: str) -> int:
        """Record one more redelivery of ``message_id``; the count so far."""
        ...

    async def commit(self, writes: WriteSet) -> None:
        """Write everything in one transaction; DuplicateMessage if the inbox has it."""
        ...
