"""Which RestAI table a ``posTableId`` names, and under which names the adapter knows it.

OpenApp's ``posTableId`` may be the table's number (``"3"``), its ``qr_code`` (what the
customer QR URL carries) or its 5-character ``short_code`` (printed on the table card);
the RestAI UUID is accepted too. RestAI has no server-side filter for any of them, so the
driver keeps the branch's table list and resolves on the client, in that order: UUID,
number, qr_code, short_code (case-insensitive). A miss re-reads the list (at most every
``table_refresh_interval`` seconds, so that unknown ids cannot hammer RestAI) before
answering TABLE_NOT_FOUND.

Every name the adapter used for a table is remembered: change announcements
(``PushEvent``, ``ChangedTables``) carry those names, since they are what the adapter
watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pos_drivers._errors import TableNotFound
from pos_drivers.restai._client import RestaiClient


@dataclass(frozen=True, slots=True)
class TableInfo:
    id: str
    number: int
    qr_code: str
    short_code: str | None
    status: str

    @property
    def name(self) -> str:
        """RestAI's own way to name a table on screens and tickets."""
        return f"Mesa {self.number}"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TableInfo:
        short = row.get("short_code")
        return cls(
            id=str(row["id"]),
            number=int(row["number"]),
            qr_code=str(row.get("qr_code") or ""),
            short_code=str(short) if short else None,
            status=str(row.get("status") or "available"),
        )


class TableDirectory:
    """The branch's tables, by every name, and the aliases the adapter used."""

    def __init__(
        self,
        client: RestaiClient,
        *,
        refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._by_id: dict[str, TableInfo] = {}
        self._by_number: dict[int, TableInfo] = {}
        self._by_qr: dict[str, TableInfo] = {}
        self._by_short: dict[str, TableInfo] = {}
        self._aliases: dict[str, set[str]] = {}
        self._last_refresh: float | None = None

    async def resolve(self, alias: str) -> TableInfo:
        """The table ``alias`` names, remembered as one of its aliases.

        TableNotFound when RestAI has no table by that name.
        """
        table = await self.find(alias)
        if table is None:
            raise TableNotFound(f"RestAI has no table {alias!r} in this branch")
        self._aliases.setdefault(table.id, set()).add(alias)
        return table

    async def find(self, alias: str) -> TableInfo | None:
        """The table ``alias`` names (re-reading the list on a miss), not remembered."""
        table = self.lookup(alias)
        if table is None and self._may_refresh():
            await self.refresh()
            table = self.lookup(alias)
        return table

    def lookup(self, alias: str) -> TableInfo | None:
        """The cached table ``alias`` names, without asking RestAI."""
        key = alias.strip()
        if key in self._by_id:
            return self._by_id[key]
        if key.isdigit() and int(key) in self._by_number:
            return self._by_number[int(key)]
        if key in self._by_qr:
            return self._by_qr[key]
        return self._by_short.get(key.upper())

    def by_id(self, table_id: str) -> TableInfo | None:
        return self._by_id.get(table_id)

    def by_number(self, number: int) -> TableInfo | None:
        return self._by_number.get(number)

    def aliases(self, table_id: str) -> frozenset[str]:
        """The names the adapter used for this table (empty: the adapter never asked)."""
        return frozenset(self._aliases.get(table_id, ()))

    def aliased_tables(self) -> frozenset[str]:
        """RestAI ids of the tables the adapter has asked about."""
        return frozenset(table_id for table_id, names in self._aliases.items() if names)

    def forget(self, table_id: str) -> None:
        """Drop a table RestAI no longer knows (deleted)."""
        table = self._by_id.pop(table_id, None)
        if table is not None:
            self._by_number.pop(table.number, None)
            self._by_qr.pop(table.qr_code, None)
            if table.short_code:
                self._by_short.pop(table.short_code.upper(), None)

    def _may_refresh(self) -> bool:
        if self._last_refresh is None:
            return True
        return self._clock() - self._last_refresh >= self._refresh_interval

    async def refresh(self) -> list[dict[str, Any]]:
        """Re-read ``GET /api/tables``; returns the raw rows (the poll reuses them)."""
        data = await self._client.get("/api/tables")
        rows = data.get("tables") if isinstance(data, dict) else None
        table_rows = [row for row in rows or () if isinstance(row, dict)]
        self.replace(table_rows)
        return table_rows

    def replace(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take ``rows`` (``GET /api/tables``) as the complete list of the branch's tables."""
        tables = [TableInfo.from_row(row) for row in rows]
        self._by_id = {t.id: t for t in tables}
        self._by_number = {t.number: t for t in tables}
        self._by_qr = {t.qr_code: t for t in tables if t.qr_code}
        self._by_short = {t.short_code.upper(): t for t in tables if t.short_code}
        self._last_refresh = self._clock()
