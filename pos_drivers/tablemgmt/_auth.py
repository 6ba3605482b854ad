"""Where the bearer token comes from: a setting, or a file another process rotates.

The API issues no refresh tokens and documents no login, so whoever holds the
credentials writes a fresh JWT to the file. The file is read at start, again whenever
its size or modification time changes (one ``stat`` per request, microseconds), and
again after a 401, in case it was rewritten within the same timestamp. The token is
never logged.
"""

from __future__ import annotations

import os
from pathlib import Path

from pos_drivers._errors import PosUnavailable


class TokenSource:
    """The current token: fixed, or the content of ``path``."""

    def __init__(self, *, token: str | None = None, path: Path | None = None) -> None:
        if (token is None) == (path is None):
            raise ValueError("give a token or a token file")
        self.path = path
        self._token = token.strip() if token is not None else None
        self._seen: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"TokenSource(path={self.path!r})" if self.path else "TokenSource(fixed)"

    def current(self) -> str:
        """The token to send; re-reads the file when it changed. PosUnavailable when the
        file cannot be read or is empty."""
        if self.path is not None:
            stamp = self._stamp(self.path)
            if stamp != self._seen or self._token is None:
                self._read(self.path, stamp)
        assert self._token is not None
        return self._token

    def reread(self) -> bool:
        """Read the file again whatever its stamp; whether the token changed."""
        if self.path is None:
            return False
        before = self._token
        self._read(self.path, self._stamp(self.path))
        return self._token != before

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int, int]:
        try:
            info = os.stat(path)
        except OSError as exc:
            raise PosUnavailable(f"cannot read the token file {path} ({exc.strerror})") from None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def _read(self, path: Path, stamp: tuple[int, int, int]) -> None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise PosUnavailable(f"cannot read the token file {path} ({exc})") from None
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise PosUnavailable(f"the token file {path} is empty")
        self._token, self._seen = token, stamp
