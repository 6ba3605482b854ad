"""Operator commands: what people who run the sidecar use to see and repair it."""
