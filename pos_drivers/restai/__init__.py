"""The RestAI driver (``POS_ADAPTER_DRIVER=restai``); see ``docs/restai.md``."""

from pos_drivers.restai._config import RestaiSettings
from pos_drivers.restai._driver import RestaiDriver

__all__ = ["RestaiDriver", "RestaiSettings"]
