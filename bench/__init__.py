"""Benchmarks of pos-adapter against the local broker and the mock POS (see bench/README.md).

- ``python -m bench.commands``: command throughput and latency, beside a bare echo worker.
- ``python -m bench.changes``: POS change latency (push, poll) and the cost of idle streams.
- ``python -m bench.startup``: resident memory after importing the CLI and of an idle worker.
- ``python -m bench.http_client``: the POS HTTP client's CPU per request.
"""
