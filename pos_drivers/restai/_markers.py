"""How the driver recognises, on RestAI, the lines its own submissions created.

RestAI has no external reference on order lines, and it reads an order's lines back
sorted by their random UUID, not in the order they were inserted. So the reference the
adapter gives each line (``"<submissionId>:<lineId>"``) is written into RestAI's own
free-text fields, where it survives every read:

- the order's ``notes`` end with ``[openapp:<prefix>]``, where ``prefix`` is the part
  every reference of the submission shares (normally ``"<submissionId>:"``);
- each line's ``notes`` end with ``[oa:<rest>]`` (after the diner's own notes and one
  space), where ``prefix + rest`` is the line's full reference.

Inside the brackets ``%``, ``[``, ``]`` and control characters are percent-encoded, so a
marker can always be found at the very end of the text and decoded exactly, whatever
the identifiers contain. RestAI limits both fields to 500 characters, counted as
JavaScript counts them (UTF-16 code units): the diner's notes are shortened (ending with
``…``) in the rare case where they and the marker do not fit together.

A marker only counts on an order that the integration user created (``created_by``):
RestAI's POS screen can copy an order's notes when a waiter repeats it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

NOTES_LIMIT = 500
"""RestAI's limit on order and line notes, in UTF-16 code units (zod ``max(500)``)."""

ORDER_NOTE_LABEL = "OpenApp"
"""Human-readable words before the order marker: the kitchen sees where the round came from."""

UNDO_REASON = "OpenApp: pedido deshecho por el adaptador"
"""The cancel reason of an order the driver created and then undid (see ``_driver``)."""

_ORDER_MARK = re.compile(r"\[openapp:([^\[\]]*)\]\Z")
_ITEM_MARK = re.compile(r"\[oa:([^\[\]]*)\]\Z")
_ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Length as JavaScript (and so RestAI's validator) counts it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape(text: str) -> str:
    """Percent-encode only what would make a marker ambiguous or unreadable."""
    out: list[str] = []
    for ch in text:
        if ch in "%[]" or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
    return "".join(out)


def unescape(text: str) -> str:
    return unquote(text, errors="surrogatepass")


def truncate_utf16(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` UTF-16 units, ending with ``…`` when cut."""
    if utf16_len(text) <= budget:
        return text
    if budget <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for ch in text:
        width = utf16_len(ch)
        if used + width > budget - 1:
            break
        kept.append(ch)
        used += width
    return "".join(kept) + _ELLIPSIS


@dataclass(frozen=True, slots=True)
class SubmissionMarks:
    """The notes to send for one submission: the order's, and each line's."""

    order_notes: str
    line_notes: tuple[str | None, ...]


class MarkerTooLong(ValueError):
    """A reference cannot be written within RestAI's 500-character notes."""


def common_prefix(refs: Sequence[str]) -> str:
    """The part every reference shares, cut just after its last ``:``.

    Any split would decode to the same references; cutting at ``:`` keeps the line part
    (the lineId) readable on the kitchen ticket.
    """
    if not refs:
        return ""
    first, last = min(refs), max(refs)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    shared = first[:size]
    cut = shared.rfind(":")
    return shared[: cut + 1] if cut >= 0 else ""


def order_note(prefix: str) -> str:
    return f"{ORDER_NOTE_LABEL} [openapp:{escape(prefix)}]"


def mark_submission(refs: Sequence[str | None], notes: Sequence[str | None]) -> SubmissionMarks:
    """Order and line notes carrying ``refs`` (None: a line without reference)."""
    present = [ref for ref in refs if ref is not None]
    prefix = common_prefix(present)
    while prefix and utf16_len(order_note(prefix)) > NOTES_LIMIT:
        prefix = prefix[:-1]
    line_notes = tuple(
        _mark_line(diner, None if ref is None else ref[len(prefix) :])
        for ref, diner in zip(refs, notes, strict=True)
    )
    return SubmissionMarks(order_notes=order_note(prefix), line_notes=line_notes)


def _mark_line(diner: str | None, rest: str | None) -> str | None:
    if rest is None:
        return diner if diner else None
    tag = f"[oa:{escape(rest)}]"
    if utf16_len(tag) > NOTES_LIMIT:
        raise MarkerTooLong("a line reference does not fit in RestAI's line notes")
    if not diner:
        return tag
    kept = truncate_utf16(diner, NOTES_LIMIT - utf16_len(tag) - 1)
    return f"{kept} {tag}" if kept else tag


def order_prefix(order_notes: object) -> str | None:
    """The reference prefix an order's notes carry, or None when they carry none."""
    if not isinstance(order_notes, str):
        return None
    found = _ORDER_MARK.search(order_notes)
    return unescape(found.group(1)) if found else None


@dataclass(frozen=True, slots=True)
class LineMark:
    """What a line's notes say: the diner's own notes and the reference suffix."""

    notes: str | None
    rest: str | None


def read_line(line_notes: object) -> LineMark:
    """Split a line's notes into the diner's notes and the marker (if any)."""
    if not isinstance(line_notes, str) or not line_notes:
        return LineMark(notes=None, rest=None)
    found = _ITEM_MARK.search(line_notes)
    if found is None:
        return LineMark(notes=line_notes, rest=None)
    start = found.start()
    if start == 0:
        return LineMark(notes=None, rest=unescape(found.group(1)))
    if line_notes[start - 1] != " ":
        return LineMark(notes=line_notes, rest=None)
    diner = line_notes[: start - 1]
    return LineMark(notes=diner or None, rest=unescape(found.group(1)))


def plain_notes(line_notes: object) -> str | None:
    """A line's notes as the diner or waiter wrote them (marker removed)."""
    return read_line(line_notes).notes
