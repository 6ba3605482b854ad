"""The change stream (§4.5): TableOrderSnapshotChanged.

One message per change type; ``snapshot.version`` equals ``sequence``, and an
``ORDER_CLOSED`` change carries no lines or discounts and a snapshot with
``orderStatus: CLOSED`` (the check as last seen).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from ._common import ChangeType, Discount, Identifier, Line, OrderStatus, Snapshot, WireModel

__all__ = ["TableOrderSnapshotChanged"]


class TableOrderSnapshotChanged(WireModel):
    """A change of one type seen on a watched table, with the full snapshot after it."""

    pos_table_id: Identifier
    table_session_id: Identifier
    stream_id: Identifier
    sequence: Annotated[int, Strict(), Field(ge=1)]
    change_type: ChangeType
    lines: tuple[Line, ...] = ()
    discounts: tuple[Discount, ...] = ()
    snapshot: Snapshot

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.snapshot.version != self.sequence:
            raise PydanticCustomError("version", "snapshot.version must equal sequence")
        closed = self.change_type is ChangeType.ORDER_CLOSED
        if closed and (self.lines or self.discounts):
            raise PydanticCustomError("order_closed", "ORDER_CLOSED carries no lines")
        if closed != (self.snapshot.order_status is OrderStatus.CLOSED):
            raise PydanticCustomError(
                "order_closed", "the snapshot is CLOSED exactly in an ORDER_CLOSED change"
            )
        return self
