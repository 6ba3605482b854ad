"""Exponential back-off with full jitter, for loops that retry until something answers."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from ``initial`` up to ``maximum``, jittered; ``reset`` on success."""

    def __init__(self, initial: float = 0.2, maximum: float = 5.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self._attempt)
        self._attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
