"""Times are UTC everywhere: the clock, and times that arrive without an offset (SQLite
keeps none; an AMQP timestamp or a recorded one may have none) taken as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["as_utc", "utc_from_iso", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...


@overload
def as_utc(moment: None) -> None: ...


def as_utc(moment: datetime | None) -> datetime | None:
    """The same instant in UTC; without an offset, ``moment`` is taken as UTC already."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_from_iso(value: object) -> datetime | None:
    """An ISO 8601 time in UTC (UTC when it has no offset); None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None
