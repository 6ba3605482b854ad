"""Fixtures of the operations tests: the integration suite's adapter, broker client and
mock POS, and helpers to read a worker's metrics endpoint."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import (  # noqa: F401  (fixtures, found here by pytest)
    adapter,
    mock_pos,
    openapp,
    pos,
    process_settings,
    settings,
    start_adapter,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    """Every sample the endpoint on ``port`` serves, by (name, labels)."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` that carry ``labels`` (whatever their other
    labels, the location's among them); 0 when there are none (a counter never hit)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)
