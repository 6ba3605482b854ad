"""The AMQP headers a command may carry: the adapter's own (contract §5) and the ones
RabbitMQ adds on its way. One home, below ``handlers`` and ``adapter``, so that the
consumer that writes a header and the operator commands that read or drop it agree."""

from __future__ import annotations

__all__ = [
    "BROKER_HEADERS",
    "DEATH_HEADER",
    "DELIVERY_COUNT_HEADER",
    "ERROR_HEADER",
    "REPLAY_HEADER",
]

ERROR_HEADER = "x-pos-adapter-error"
"""Why the adapter dead-lettered a command, on its dead-letter copy."""

REPLAY_HEADER = "x-pos-adapter-replay-of"
"""On a command replayed as new (``pos-adapter replay --reprocess``): the original's
messageId."""

DEATH_HEADER = "x-death"
"""The broker's history of a message's dead-letterings, newest first."""

DELIVERY_COUNT_HEADER = "x-delivery-count"
"""How often a quorum queue delivered the message before."""

BROKER_HEADERS = frozenset({
    DEATH_HEADER, DELIVERY_COUNT_HEADER,
    "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
    "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
})
"""What RabbitMQ adds to a message on its way (deliveries, dead-letterings): a copy
published again starts without them (a broker appends to an ``x-death`` it finds)."""
