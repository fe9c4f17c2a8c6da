"""Prometheus metrics of the event backbone: relay and consumers (default registry).

Defined once at import, so every relay and consumer in a process adds to the same series;
each process serves them on its own `/metrics`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "prokopim_events_published",
    "Events the relay published to JetStream (acknowledged by the stream).",
    ["type"],
)
RELAY_LAG = Gauge(
    "prokopim_relay_lag_events",
    "Stored events the relay has not yet published (head position minus relay checkpoint).",
)
RELAY_QUARANTINED = Counter(
    "prokopim_relay_quarantined_events",
    "Events the bus refused for good (too large, say), set aside so later events go on.",
    ["type"],
)
RELAY_REPUBLISHES = Counter(
    "prokopim_relay_stream_rebuilds",
    "Times the relay found the stream recreated or behind its checkpoint and re-published.",
)
RELAY_LEADER = Gauge(
    "prokopim_relay_leader",
    "1 while this relay process holds the lease and publishes, 0 while it stands by.",
)
EVENTS_CONSUMED = Counter(
    "prokopim_events_consumed",
    "Deliveries a consumer handled, by outcome: processed, duplicate, retried, dead_lettered.",
    ["consumer", "type", "outcome"],
)
HANDLER_DURATION = Histogram(
    "prokopim_handler_duration_seconds",
    "Time to handle one event: the handler and its dedupe row, in one transaction.",
    ["consumer", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REDELIVERIES = Counter(
    "prokopim_redeliveries",
    "Deliveries that JetStream made more than once (a retry, or an unacked message).",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "prokopim_dead_letters",
    "Messages a consumer gave up on and recorded as dead letters.",
    ["consumer"],
)


class Outcome:
    """The `outcome` label values of prokopim_events_consumed_total."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"  # the handler would not act on it: acked without a transaction
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"
