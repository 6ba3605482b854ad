"""Test helpers shipped with the package, for the project's tests and integrators' own.

- :class:`OpenAppClient` plays OpenApp's side of the contract on a broker;
  :func:`command` builds a command's envelope.
- :class:`TcpProxy` sits between the adapter and a service (the broker, a POS) to cut,
  refuse or blackhole its connections.
"""

from adapter.testing._openapp import DEFAULT_TIMEOUT, OpenAppClient, Received, command
from adapter.testing._proxy import TcpProxy

__all__ = ["DEFAULT_TIMEOUT", "OpenAppClient", "Received", "TcpProxy", "command"]
