"""The AMQP side: topology, the command consumer, the outbox relay."""

from adapter.amqp._connection import (
    BROKER_UNREACHABLE,
    broker_urls,
    connect_broker,
    connect_failure,
    connect_once,
    without_credentials,
)
from adapter.amqp._consumer import CommandConsumer
from adapter.amqp._relay import OutboxRelay, message_properties
from adapter.amqp._republish import persistent_copy
from adapter.amqp._topology import Topology, command_queue_arguments, declare_topology

__all__ = [
    "BROKER_UNREACHABLE",
    "CommandConsumer",
    "OutboxRelay",
    "Topology",
    "broker_urls",
    "command_queue_arguments",
    "connect_broker",
    "connect_failure",
    "connect_once",
    "declare_topology",
    "message_properties",
    "persistent_copy",
    "without_credentials",
]
