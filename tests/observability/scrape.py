"""Read Prometheus text exposition, as a scraper would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Return every sample called `name` with its labels."""
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def sample(text: str, name: str, labels: dict[str, str]) -> float:
    """Return the value of the sample `name` whose labels include `labels` (0 if none)."""
    return sum(
        value
        for found, value in samples(text, name)
        if all(found.get(key) == want for key, want in labels.items())
    )
