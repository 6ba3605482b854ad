"""The ``tablemgmt`` driver for a POS's Table Management API, and an imitation of that API.

- :class:`TableMgmtDriver` (``POS_ADAPTER_DRIVER=tablemgmt``) and its settings
  :class:`TableMgmtSettings` (``POS_ADAPTER_TABLEMGMT_*``); see ``docs/tablemgmt.md``.
- :class:`TableMgmtServer`: the imitation inside an event loop (tests, demos);
  :func:`run_tablemgmt_server`: blocking, for a command line.
- :class:`TableMgmtControl`: act as the restaurant on the imitation (orders, items,
  faults, tokens, request counts); :func:`mint_token`: a token it accepts.

The imitation's server is loaded on first use: a worker using the driver never needs it.
"""

from typing import TYPE_CHECKING

from pos_drivers._lazy import lazy_names
from pos_drivers.tablemgmt._control import TableMgmtControl, TableMgmtControlError
from pos_drivers.tablemgmt._driver import AccessDenied, TableMgmtDriver
from pos_drivers.tablemgmt._imitation_state import (
    OTHER_OUTLET_ID,
    SEED_OUTLET_ID,
    SEED_PRODUCTS,
    TableMgmtState,
)
from pos_drivers.tablemgmt._settings import TableMgmtSettings

if TYPE_CHECKING:  # the names the lazy __getattr__ gives; typos stay errors
    from pos_drivers.tablemgmt._imitation import (
        TEST_JWT_KEY,
        TableMgmtServer,
        create_app,
        mint_token,
        run_tablemgmt_server,
    )
else:
    __getattr__ = lazy_names(__name__, dict.fromkeys(
        ("TEST_JWT_KEY", "TableMgmtServer", "create_app", "mint_token", "run_tablemgmt_server"),
        "._imitation",
    ))

__all__ = [
    "OTHER_OUTLET_ID",
    "SEED_OUTLET_ID",
    "SEED_PRODUCTS",
    "TEST_JWT_KEY",
    "AccessDenied",
    "TableMgmtControl",
    "TableMgmtControlError",
    "TableMgmtDriver",
    "TableMgmtServer",
    "TableMgmtSettings",
    "TableMgmtState",
    "create_app",
    "mint_token",
    "run_tablemgmt_server",
]
