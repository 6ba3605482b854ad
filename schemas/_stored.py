"""A snapshot as a stream's row stores it: JSON that :meth:`Snapshot.model_validate_json`
reads back as the same snapshot.

Every commit that moves a stream writes its whole baseline again, and a baseline's lines
are nearly all the very objects the last one held (``handlers._snapshots.to_line`` shares
them): each line's JSON is made once, for as long as the line lives, and the snapshot's
is the rest of it around them. On a 250-line check that is some 27 µs instead of 228
(`bench.check_lines --lines 250`). A snapshot made of another's lines and more (a
submission's catch-up) starts from the other's lines' JSON when it is known.
"""

from __future__ import annotations

from schemas._common import Line, Snapshot
from schemas._memo import ByIdentity

_line_json: ByIdentity[Line, str] = ByIdentity(Line.model_dump_json)
_lines_json: ByIdentity[Snapshot, str] = ByIdentity(
    lambda snapshot: ",".join(_line_json.many(snapshot.lines))
)
"""A snapshot's lines as JSON, without the brackets, while the snapshot lives."""
_NOT_LINES = {"lines"}


def snapshot_json(snapshot: Snapshot) -> str:
    """The snapshot's JSON, ``lines`` first (the order of keys means nothing to JSON)."""
    rest = snapshot.model_dump_json(exclude=_NOT_LINES)
    return f'{{"lines":[{_lines_json(snapshot)}],{rest[1:]}'


def same_lines_json(copy: Snapshot, original: Snapshot) -> None:
    """``copy`` has ``original``'s lines (a model copy with other scalars)."""
    known = _lines_json.known(original)
    if known is not None:
        _lines_json.put(copy, known)


def grown_lines_json(snapshot: Snapshot, start: Snapshot) -> None:
    """``snapshot``'s lines are ``start``'s followed by others: when ``start``'s JSON is
    known (its stream's row was written), ``snapshot``'s is that and theirs, not every
    line's again (a submission's catch-up: a check that grew by a line)."""
    known = _lines_json.known(start)
    if known is None or not start.lines:
        return
    added = _line_json.many(snapshot.lines[len(start.lines):])
    _lines_json.put(snapshot, ",".join([known, *added]))
