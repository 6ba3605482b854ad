"""What drivers share from one answer to the next: values, while they live."""

from __future__ import annotations

import gc

from pos_drivers import SharedValues


class Value:
    """Weak-referenceable."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_a_shared_value_is_found_while_it_lives() -> None:
    shared: SharedValues[str, Value] = SharedValues()
    kept = shared.put("a", Value("a"))
    shared.put("b", Value("b"))  # nothing holds it
    gc.collect()

    assert shared.get("a") is kept
    assert shared.get("b") is None
    assert len(shared) == 1


def test_a_value_replaced_under_its_key_does_not_take_the_new_one_with_it() -> None:
    shared: SharedValues[str, Value] = SharedValues()
    old = shared.put("a", Value("old"))
    new = shared.put("a", Value("new"))
    del old
    gc.collect()

    assert shared.get("a") is new
