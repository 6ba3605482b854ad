"""The names the inbox, the journal and the metrics give to what became of a command."""

from __future__ import annotations

from enum import StrEnum


class CommandOutcome(StrEnum):
    """What became of a command besides the result's own outcome (``RESOLVED``,
    ``ACCEPTED``...: ``schemas.SnapshotOutcome`` and ``SubmissionOutcome``, recorded by
    value). The values are stored and exported as metric labels: never change one. Some
    are prefixes: the journal adds ``:`` and the detail (:meth:`with_detail`)."""

    DUPLICATE = "DUPLICATE"
    """A messageId answered before: its stored result went out again."""
    REJECTED = "REJECTED"
    """Prefix: answered with a rejection, ``REJECTED:<reason>``."""
    REPEATED = "REPEATED"
    """Prefix: a submissionId already done, ``REPEATED:<its stored outcome>``."""
    DEAD_LETTERED = "DEAD_LETTERED"
    """Dead-lettered; in the journal ``DEAD_LETTERED:<reason>``."""
    CRASHED = "CRASHED"
    """The handler raised and the delivery goes back to the queue; in the journal
    ``CRASHED:<exception type>``."""

    def with_detail(self, detail: object) -> str:
        return f"{self.value}:{detail}"
