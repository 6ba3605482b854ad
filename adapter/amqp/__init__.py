"""The AMQP side: topology, the command consumer, the outbox relay."""

from adapter.amqp._connection import (
    BROKER_UNREACHABLE,
    broker_urls,
    connect_broker,
    connect_failure,
    connect_once,
)
from adapter.amqp._consumer import ERROR_HEADER, CommandConsumer
from adapter.amqp._relay import OutboxRelay, message_properties
from adapter.amqp._topology import Topology, command_queue_arguments, declare_topology

__all__ = [
    "BROKER_UNREACHABLE",
    "ERROR_HEADER",
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
]
