"""A table's check as the mock POS answers it, parsed from where the table's last answer
left off.

Every answer about a check carries the whole check (``GET …/order``, and the add's
answer), and the mock encodes it the same way each time: ``{"orderId", "tableId",
"status", "currency", "lines": […], "discounts": […], "updatedAt"}``, compact. So an
answer that begins with the bytes of the table's last answer up to its last line has
those lines unchanged: only what follows (new lines, the discounts, the version) is
parsed, and the lines before it are the ones parsed last time. A submission on a check of
150 lines then parses one line, not 150 (``bench/README.md``, step 24).

Nothing depends on the layout being kept: an answer laid out otherwise, or that differs
earlier, is parsed whole, as before. The last answers of ``KEPT_TABLES`` tables are
kept, the least recently read forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pos_drivers._http_response import json_of
from pos_drivers._models import PosLine

KEPT_TABLES = 256
_LINES_END = b'],"discounts":'
"""What follows the lines array in the mock's layout: a quote outside a string, so it
can only be the structure's own."""

LineParser = Callable[[Mapping[str, Any]], PosLine]


@dataclass(frozen=True, slots=True)
class _Answer:
    prefix: bytes
    """The answer up to its last line's closing brace (up to ``"lines":[`` if none)."""
    head: dict[str, Any]
    """The fields before the lines."""
    lines: tuple[PosLine, ...]


class CheckAnswers:
    """The last answer of each table, to parse the next from where it left off."""

    def __init__(self, parse_line: LineParser, *, kept: int = KEPT_TABLES) -> None:
        self._parse_line = parse_line
        self._kept = kept
        self._last: OrderedDict[str, _Answer] = OrderedDict()

    def parse(self, table_id: str, body: bytes) -> tuple[dict[str, Any], tuple[PosLine, ...]]:
        """The answer's fields (its ``lines`` as they came only where parsed whole) and
        its lines. ``ValueError`` (not JSON), ``KeyError`` or ``TypeError`` (not a
        check), as parsing it whole would raise."""
        last = self._last.get(table_id)
        if last is not None and body.startswith(last.prefix):
            continued = self._continue(last, body)
            if continued is not None:
                self._remember(table_id, body, *continued)
                return continued
        order = json_of(body)
        lines = tuple(map(self._parse_line, order["lines"]))
        self._remember(table_id, body, order, lines)
        return order, lines

    def _continue(
        self, last: _Answer, body: bytes
    ) -> tuple[dict[str, Any], tuple[PosLine, ...]] | None:
        """The answer parsed from the end of ``last.prefix``; None if what follows is not
        the rest of the lines and the fields after them."""
        rest = body[len(last.prefix):]
        if last.lines and rest.startswith(b","):
            rest = rest[1:]
        elif rest.startswith(b","):
            return None  # "[," is no JSON: let the whole parse say so
        try:
            tail = json_of(b'{"lines":[' + rest)  # an object, or no JSON at all
            added = tuple(map(self._parse_line, tail["lines"]))
        except (ValueError, KeyError, TypeError):
            return None
        if tail.keys() & last.head.keys():
            return None
        return {**last.head, **tail}, last.lines + added

    def _remember(
        self, table_id: str, body: bytes, order: dict[str, Any], lines: tuple[PosLine, ...]
    ) -> None:
        keys = list(order)
        at = keys.index("lines")  # there: the lines were parsed
        if keys[at + 1:at + 2] != ["discounts"]:
            return
        end = body.rfind(_LINES_END)
        if end < 0 or not _tail_is(body[end + 1:], order, keys[at + 1:]):
            return
        head = {key: order[key] for key in keys[:at]}
        self._last[table_id] = _Answer(body[:end], head, lines)
        self._last.move_to_end(table_id)
        while len(self._last) > self._kept:
            self._last.popitem(last=False)


def _tail_is(tail: bytes, order: Mapping[str, Any], keys: list[str]) -> bool:
    """Whether ``tail`` (from the comma after the lines) is exactly the order's fields
    after its lines: then the bytes before it end with the last line."""
    try:
        parsed = json_of(b"{" + tail[1:])  # an object, or no JSON at all
    except ValueError:
        return False
    return list(parsed) == keys and all(parsed[key] == order[key] for key in keys)
