"""Reading Prometheus metrics in tests: parse the text format, sum samples by labels."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = list[tuple[str, dict[str, str], float]]


def parse(text: str) -> Samples:
    """Every sample as (name, labels, value); names as exposed (``…_total``, ``…_bucket``)."""
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when there is none)."""
    return sum(
        v
        for n, found, v in samples
        if n == name and all(found.get(k) == w for k, w in labels.items())
    )


def series(samples: Samples, name: str, **labels: str) -> list[dict[str, str]]:
    """The label sets of ``name``'s samples that include ``labels``."""
    return [
        found
        for n, found, _ in samples
        if n == name and all(found.get(k) == w for k, w in labels.items())
    ]


def scrape(base: str, token: str) -> Samples:
    response = requests.get(
        f"{base}/api/v1/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    return parse(response.text)
