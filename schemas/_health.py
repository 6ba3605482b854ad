"""PosHealthReported (§4.6): the adapter's heartbeat, every ``health_interval``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from ._common import WireModel

__all__ = ["PosHealthReported"]


class PosHealthReported(WireModel):
    """``healthy`` is the adapter's own verdict; ``pos_reachable`` the POS's last answer."""

    healthy: Annotated[bool, Strict()]
    software_name: str
    software_version: str
    driver: str
    pos_reachable: Annotated[bool, Strict()]
    active_streams: Annotated[int, Strict(), Field(ge=0)]
