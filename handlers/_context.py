"""What every handler shares: the location, the store, the driver, the clock and limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from handlers._locks import TableLocks
from handlers._records import Store, StreamRecord
from pos_drivers import PosDriver
from schemas import utc_now


class StreamListener:
    """Told when a command opens or ends a stream, so the watcher follows the table."""

    def stream_opened(self, pos_table_id: str) -> None:
        """A stream became active for the table."""

    def stream_ended(self, pos_table_id: str) -> None:
        """The table's stream closed or expired."""

    def baseline_at(self, pos_table_id: str, version: str | None, stream: StreamRecord) -> None:
        """A submission just committed ``stream``, its baseline the table's check at the
        POS's ``version`` after its add (see ``PosCheck.version``; None: the POS keeps
        none): the POS's announcement of that version needs no read."""


@dataclass(slots=True)
class HandlerContext:
    location_id: str
    store: Store
    driver: PosDriver
    locks: TableLocks
    pos_deadline: float = 8.0
    stream_max_age: float = 12 * 3600.0
    listener: StreamListener = field(default_factory=StreamListener)
    clock: Callable[[], datetime] = utc_now
