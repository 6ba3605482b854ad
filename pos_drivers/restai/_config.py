"""The RestAI driver's settings, read from the adapter's ``DriverConfig``.

Options (``DriverConfig.options``; the adapter fills the first three from
``POS_ADAPTER_RESTAI_*``):

``restai_email``, ``restai_password``
    A RestAI staff account; ``branch_manager`` is the role with every permission the
    driver uses (orders, tables, menu). Required. Never logged.
``restai_branch_id``
    The branch (sede) UUID; default: the first branch of the account.
``restai_max_inline_wait`` (default 2 s)
    A 429 whose ``Retry-After`` is at most this long is waited out inside the call and
    the request sent once more; a longer one raises ``PosUnavailable(retry_after=...)``.
``restai_deep_poll_interval`` (default 30 s)
    How often ``changes_since`` also re-reads the line statuses of the known occupied
    tables (line-status changes are invisible to RestAI's list endpoints).
``restai_ws_backoff_max`` (default 30 s)
    The longest wait between two WebSocket reconnection attempts.
``restai_table_refresh_interval`` (default 5 s)
    The table list is re-read on a cache miss at most this often.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pos_drivers._base import DriverConfig


@dataclass(frozen=True, slots=True)
class RestaiSettings:
    base_url: str
    email: str = field(repr=False)
    password: str = field(repr=False)
    branch_id: str | None = None
    request_timeout: float = 5.0
    max_inline_wait: float = 2.0
    deep_poll_interval: float = 30.0
    ws_backoff_initial: float = 0.2
    ws_backoff_max: float = 30.0
    table_refresh_interval: float = 5.0

    @classmethod
    def from_driver_config(cls, config: DriverConfig) -> RestaiSettings:
        """Settings from the adapter's config; ValueError names a missing option."""
        options = config.options
        email = options.get("restai_email", "").strip()
        password = options.get("restai_password", "")
        if not config.pos_url:
            raise ValueError("the RestAI driver needs pos_url (POS_ADAPTER_POS_URL)")
        if not email or not password:
            raise ValueError(
                "the RestAI driver needs restai_email and restai_password "
                "(POS_ADAPTER_RESTAI_EMAIL, POS_ADAPTER_RESTAI_PASSWORD)"
            )
        return cls(
            base_url=config.pos_url.rstrip("/"),
            email=email,
            password=password,
            branch_id=options.get("restai_branch_id", "").strip() or None,
            request_timeout=config.request_timeout,
            max_inline_wait=_seconds(options, "restai_max_inline_wait", 2.0),
            deep_poll_interval=_seconds(options, "restai_deep_poll_interval", 30.0),
            ws_backoff_max=_seconds(options, "restai_ws_backoff_max", 30.0),
            table_refresh_interval=_seconds(options, "restai_table_refresh_interval", 5.0),
        )


def _seconds(options: Mapping[str, str], key: str, default: float) -> float:
    raw = options.get(key, "").strip()
    if not raw:
        return default
    value = float(raw)
    if value < 0:
        raise ValueError(f"{key} must not be negative")
    return value
