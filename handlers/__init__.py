"""What each message means: the command handlers, the watcher and the diff engine.

Handlers see the POS through a driver and the store through :class:`Store`; they never
see AMQP or SQL.
"""

from handlers._backoff import Backoff
from handlers._command import CommandHandler
from handlers._context import HandlerContext, StreamListener, utc_now
from handlers._dispatch import Ack, DeadLetter, Dispatcher, Disposition
from handlers._locks import TableLocks
from handlers._pos import call_pos
from handlers._records import (
    CreatedLine,
    DuplicateMessage,
    InboxRecord,
    JournalEntry,
    OutgoingMessage,
    Store,
    StreamRecord,
    StreamStatus,
    SubmissionRecord,
    SubmissionState,
    WriteSet,
)
from handlers.snapshot import SnapshotHandler

__all__ = [
    "Ack",
    "Backoff",
    "CommandHandler",
    "CreatedLine",
    "DeadLetter",
    "Dispatcher",
    "Disposition",
    "DuplicateMessage",
    "HandlerContext",
    "InboxRecord",
    "JournalEntry",
    "OutgoingMessage",
    "SnapshotHandler",
    "Store",
    "StreamListener",
    "StreamRecord",
    "StreamStatus",
    "SubmissionRecord",
    "SubmissionState",
    "TableLocks",
    "WriteSet",
    "call_pos",
    "utc_now",
]
