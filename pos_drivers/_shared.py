"""Immutable values shared for as long as anything holds them."""

from __future__ import annotations

import weakref
from functools import partial
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SharedValues(Generic[K, V]):
    """A map whose values are held weakly: an entry goes when its value does.

    What ``weakref.WeakValueDictionary`` does, at a fraction of its cost per lookup: a
    check's every line is looked up on every read, and that class's ``get`` is Python
    code. ``refs`` is a plain dict, for a hot loop to read inline::

        ref = shared.refs.get(key)
        value = None if ref is None else ref()
    """

    __slots__ = ("refs",)

    def __init__(self) -> None:
        self.refs: dict[K, weakref.ref[V]] = {}

    def get(self, key: K) -> V | None:
        ref = self.refs.get(key)
        return None if ref is None else ref()

    def put(self, key: K, value: V) -> V:
        """``value`` under ``key`` (a key holds on to what it names: a shared value may
        keep the objects its key is made of alive)."""
        self.refs[key] = weakref.ref(value, partial(self._forget, key))
        return value

    def __len__(self) -> int:
        return len(self.refs)

    def _forget(self, key: K, gone: weakref.ref[V]) -> None:
        if self.refs.get(key) is gone:
            del self.refs[key]
