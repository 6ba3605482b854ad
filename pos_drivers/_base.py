"""The interface every POS driver implements.

A driver is a small async class: it reads a table's check, lists products, adds lines,
finds the lines a submission created, and tells which tables changed. It never sees
AMQP, the store or the contract's models; it raises the errors of ``_errors``.
Retries under the deadline are the caller's business: a driver makes one attempt per
call, with its own per-request timeout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Self

from pos_drivers._errors import NotSupported
from pos_drivers._models import (
    AddedLines,
    Capability,
    ChangedTables,
    NewLine,
    PosCheck,
    PosLine,
    PosProduct,
    PushEvent,
)
from pos_drivers._settings import DriverSettings


@dataclass(frozen=True, slots=True)
class DriverConfig:
    """What the adapter tells every driver: where the POS is and how long one request may
    take. Everything else a driver needs is in its own settings (``settings_model``)."""

    pos_url: str
    request_timeout: float = 5.0


class PosDriver(ABC):
    """Base class of POS drivers. Subclasses set ``name``, ``capabilities`` and, when
    they have settings of their own, ``settings_model``."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    settings_model: ClassVar[type[DriverSettings]] = DriverSettings

    def __init__(self, config: DriverConfig, settings: DriverSettings | None = None) -> None:
        """``settings`` None: read ``settings_model`` from the environment."""
        self.config = config
        self.settings = settings if settings is not None else self.settings_model()

    async def open(self) -> None:
        """Open connections, log in. Called once before any other call."""

    async def aclose(self) -> None:
        """Release connections."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @abstractmethod
    async def read_check(self, table_id: str) -> PosCheck:
        """The table and its open check (``order_id`` None when there is none).

        Raises TableNotFound, TableUnavailable, PosUnavailable.
        """

    @abstractmethod
    async def list_products(self) -> Mapping[str, PosProduct]:
        """Every product the POS sells, by product id."""

    @abstractmethod
    async def add_lines(
        self, table_id: str, expected_order_id: str | None, lines: Sequence[NewLine]
    ) -> AddedLines:
        """Add ``lines`` to the table's check, all or nothing.

        ``expected_order_id`` None opens a check when the table has none. Raises
        OrderClosed when the expected check is not the table's open check,
        ItemsRejected, DuplicateReference, TableNotFound, PosUnavailable.
        """

    async def find_lines(self, table_id: str, ref_prefix: str) -> tuple[PosLine, ...]:
        """Lines of the table's checks (open or closed today) whose external reference
        starts with ``ref_prefix``: what an earlier submission attempt left on the POS."""
        raise NotSupported(f"{self.name} cannot look lines up by reference")

    async def changes_since(self, cursor: str | None) -> ChangedTables:
        """Tables whose check changed after ``cursor`` (capability BATCH_CHANGES).

        Raises CursorExpired when the POS no longer knows the cursor.
        """
        raise NotSupported(f"{self.name} cannot list changes")

    def push_events(self) -> AsyncIterator[PushEvent]:
        """Endless iterator of change announcements (capability PUSH_CHANGES).

        It reconnects by itself with back-off, and yields ``PushEvent(None)`` after every
        (re)connection, the first included.
        """
        raise NotSupported(f"{self.name} has no push channel")

    async def ping(self) -> bool:
        """Whether the POS answers right now."""
        try:
            await self.list_products()
        except Exception:
            return False
        return True
