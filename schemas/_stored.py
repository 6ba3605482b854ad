"""A snapshot as a stream's row stores it: JSON that :meth:`Snapshot.model_validate_json`
reads back as the same snapshot.

Every commit that moves a stream writes its whole baseline again, and a baseline's lines
are nearly all the very objects the last one held (``handlers._snapshots.to_line`` shares
them): each line's JSON is made once, for as long as the line lives, and the snapshot's
is the rest of it around them. On a 250-line check that is some 27 µs instead of 228
(`bench.check_lines --lines 250`).
"""

from __future__ import annotations

from schemas._common import Line, Snapshot
from schemas._memo import ByIdentity

_line_json: ByIdentity[Line, str] = ByIdentity(Line.model_dump_json)
_NOT_LINES = {"lines"}


def snapshot_json(snapshot: Snapshot) -> str:
    """The snapshot's JSON, ``lines`` first (the order of keys means nothing to JSON)."""
    rest = snapshot.model_dump_json(exclude=_NOT_LINES)
    lines = ",".join(_line_json.many(snapshot.lines))
    return f'{{"lines":[{lines}],{rest[1:]}'
