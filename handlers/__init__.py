"""What each message means: the command handlers, the watcher and the diff engine.

Handlers see the POS through a driver and the store through :class:`Store`; they never
see AMQP or SQL.
"""

from handlers._backoff import Backoff
from handlers._change_mode import ChangeMode
from handlers._command import CommandHandler, Delivery, Incoming
from handlers._context import HandlerContext, StreamListener
from handlers._deadline import Deadline
from handlers._dispatch import Ack, DeadLetter, Dispatcher, Disposition
from handlers._locks import LockTimeout, TableLocks
from handlers._log_context import command_context, merge_command_context
from handlers._messages import outgoing
from handlers._outcome import CommandOutcome
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
    "ChangeMode",
    "CommandHandler",
    "CommandOutcome",
    "CreatedLine",
    "DeadLetter",
    "Deadline",
    "Delivery",
    "Dispatcher",
    "Disposition",
    "DuplicateMessage",
    "HandlerContext",
    "InboxRecord",
    "Incoming",
    "JournalEntry",
    "LockTimeout",
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
    "command_context",
    "merge_command_context",
    "outgoing",
]
