"""The snapshot flow (§4.1, §4.2): TableOrderSnapshotRequested and its result.

In the result, ``posTableId`` and ``tableSessionId`` may be null: they are echoed from the
request, and a ``REJECTED`` / ``INVALID_REQUEST`` result is sometimes built from a request
that lacked them (or had them in a form that cannot be echoed).
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ._common import (
    Identifier,
    Rejection,
    RejectionReason,
    Snapshot,
    SnapshotOutcome,
    SnapshotReason,
    WireModel,
)

__all__ = [
    "SNAPSHOT_REJECTION_REASONS",
    "TableOrderSnapshotRequested",
    "TableOrderSnapshotResolutionResult",
]

SNAPSHOT_REJECTION_REASONS = frozenset(
    {
        RejectionReason.TABLE_NOT_FOUND,
        RejectionReason.TABLE_UNAVAILABLE,
        RejectionReason.POS_UNAVAILABLE,
        RejectionReason.INVALID_REQUEST,
        RejectionReason.LOCATION_MISMATCH,
        RejectionReason.EXPIRED,
    }
)
"""The rejection reasons a snapshot result may carry."""


class TableOrderSnapshotRequested(WireModel):
    """OpenApp asks for a table's check, and thereby for its change stream."""

    pos_table_id: Identifier
    table_session_id: Identifier
    reason: SnapshotReason = SnapshotReason.REFRESH


class TableOrderSnapshotResolutionResult(WireModel):
    """``RESOLVED`` carries ``snapshot`` and ``streamId``; ``REJECTED`` carries ``rejection``."""

    pos_table_id: Identifier | None = None
    table_session_id: Identifier | None = None
    outcome: SnapshotOutcome
    stream_id: Identifier | None = None
    snapshot: Snapshot | None = None
    rejection: Rejection | None = None

    @model_validator(mode="after")
    def _outcome_matches(self) -> Self:
        if self.outcome is SnapshotOutcome.RESOLVED:
            if self.snapshot is None or self.stream_id is None or self.rejection is not None:
                raise PydanticCustomError(
                    "outcome", "RESOLVED needs snapshot and streamId, and no rejection"
                )
        elif self.rejection is None or self.snapshot is not None:
            raise PydanticCustomError("outcome", "REJECTED needs a rejection and no snapshot")
        elif self.rejection.reason not in SNAPSHOT_REJECTION_REASONS:
            raise PydanticCustomError(
                "rejection_reason",
                "{reason} is not a snapshot rejection reason",
                {"reason": self.rejection.reason.value},
            )
        return self
