"""RestAI staff authentication: log in, keep the access token fresh, log in again.

RestAI has no API keys: the integration logs in as a staff user. The access token (a
JWT) lives 15 minutes; the refresh token lives 7 days and is rotated on every use (the
old one is deleted). So:

- a token is renewed shortly before it expires (its ``exp`` claim is read, not
  verified), one renewal at a time: two concurrent refreshes with the same refresh
  token would make the second fail and force a needless login;
- a refused refresh token (revoked by a logout elsewhere, expired, rotated by a lost
  answer) leads to a new login;
- a refused login (wrong credentials, inactive user) raises ``PosUnavailable``: the
  adapter keeps answering ``POS_UNAVAILABLE`` until the operator fixes the account.

The driver never calls ``/api/auth/logout``: it revokes every refresh token of the user,
including those of a person or a standby adapter using the same account.
Credentials and tokens never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pos_drivers._errors import PosUnavailable
from pos_drivers.restai._client import RestaiApiError, Transport, data_of

logger = logging.getLogger("pos_drivers.restai")

DEFAULT_LIFETIME = 15 * 60.0
"""Assumed lifetime of an access token whose claims cannot be read."""


@dataclass(slots=True)
class _Tokens:
    access: str = field(repr=False)
    refresh: str = field(repr=False)
    issued_at: float
    expires_at: float

    @property
    def lifetime(self) -> float:
        return max(1.0, self.expires_at - self.issued_at)


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the server verifies; we only schedule)."""
    try:
        payload = token.split(".")[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


class TokenManager:
    """Hands out a valid access token; renews it before expiry, logs in when needed."""

    def __init__(
        self,
        transport: Transport,
        email: str,
        password: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._email = email
        self._password = password
        self._clock = clock
        self._tokens: _Tokens | None = None
        self._lock = asyncio.Lock()
        self.user_id: str | None = None
        self.branches: tuple[str, ...] = ()
        self.logins = 0
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TokenManager(user_id={self.user_id!r}, logged_in={self._tokens is not None})"

    def renew_margin(self) -> float:
        """Seconds before expiry at which a token counts as stale (60 s, less for short TTLs)."""
        lifetime = self._tokens.lifetime if self._tokens else DEFAULT_LIFETIME
        return min(60.0, lifetime * 0.2)

    @property
    def expires_at(self) -> float | None:
        """Wall-clock expiry of the current access token (None before the first login)."""
        return self._tokens.expires_at if self._tokens else None

    def _fresh(self) -> str | None:
        tokens = self._tokens
        if tokens is None or not tokens.access:
            return None
        if tokens.expires_at - self._clock() <= self.renew_margin():
            return None
        return tokens.access

    async def access_token(self) -> str:
        """A token valid for a while yet; renews it (one renewal at a time) if needed."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is not None:
                return token
            await self._renew()
            assert self._tokens is not None
            return self._tokens.access

    async def invalidate(self, token: str) -> None:
        """RestAI refused ``token``: the next ``access_token`` renews it (if still current)."""
        async with self._lock:
            if self._tokens is not None and self._tokens.access == token:
                self._tokens.access = ""

    async def _renew(self) -> None:
        if self._tokens is not None and self._tokens.refresh:
            try:
                await self._refresh(self._tokens.refresh)
                return
            except RestaiApiError as exc:
                logger.info("RestAI refused the refresh token (%s); logging in again", exc.code)
        await self._login()

    async def _refresh(self, refresh_token: str) -> None:
        response = await self._transport.send(
            "POST", "/api/auth/refresh", json={"refreshToken": refresh_token}
        )
        data = data_of(response)
        self._store(data)
        self.refreshes += 1

    async def _login(self) -> None:
        response = await self._transport.send(
            "POST", "/api/auth/login", json={"email": self._email, "password": self._password}
        )
        try:
            data = data_of(response)
        except RestaiApiError as exc:
            raise PosUnavailable(
                "RestAI refused the integration account's login", pos_detail=exc.detail
            ) from None
        user = data.get("user") if isinstance(data, dict) else None
        if isinstance(user, dict):
            self.branches = tuple(str(b) for b in user.get("branches") or ())
        self._store(data)
        self.logins += 1
        logger.info("logged in to RestAI as user %s", self.user_id)

    def _store(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise PosUnavailable("RestAI's auth answer has no tokens")
        access = data.get("accessToken")
        refresh = data.get("refreshToken")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise PosUnavailable("RestAI's auth answer has no tokens")
        claims = jwt_claims(access)
        now = self._clock()
        issued = _number(claims.get("iat"), now)
        expires = _number(claims.get("exp"), issued + DEFAULT_LIFETIME)
        # Our clock may differ from RestAI's: keep the lifetime, anchor it on our clock.
        self._tokens = _Tokens(access, refresh, now, now + max(1.0, expires - issued))
        subject = claims.get("sub")
        if isinstance(subject, str):
            self.user_id = subject
        branches = claims.get("branches")
        if isinstance(branches, list) and not self.branches:
            self.branches = tuple(str(b) for b in branches)


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
