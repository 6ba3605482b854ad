"""How the watcher learns which tables changed (a setting of the adapter and the watcher)."""

from __future__ import annotations

from enum import StrEnum


class ChangeMode(StrEnum):
    AUTO = "auto"
    """The best the driver offers: push, else batch poll, else per-table poll."""
    PUSH = "push"
    POLL = "poll"
    TABLE_POLL = "table-poll"
