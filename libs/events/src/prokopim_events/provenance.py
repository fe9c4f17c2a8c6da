"""Only what the store holds moves a case on: a consumed event must have a stored twin.

The relay publishes every stored event, and only stored events; a message on an event
subject that the store does not hold, or holds with other content, was put there by
someone else (a leaked credential, a misconfigured bus). The consumer checks each delivery
here before it reacts: same event id, and the same stream, version, position, type, data,
time and actor as the stored row. A message without such a twin is dead-lettered as forged
(never retried: the store will not change its mind), counted in
`prokopim_forged_messages_total{consumer}` and logged with its subject.

The check rides in the statement that claims the delivery in the consumer's transaction
(`claim`): one round trip with the `processed_events` insert, no connection of its own.
Only a delivery the consumer may act on is checked: one it acks unread (its `wants` test
says it is none of its concern) moves nothing, forged or not, and the ledger, which acts on
every event, still finds and counts every forgery. `data` is compared as jsonb, so key order
and number formatting on the wire do not matter.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from .db import Connection
from .envelope import StoredEvent

log = logging.getLogger(__name__)

FORGED_MESSAGES = Counter(
    "prokopim_forged_messages",
    "Messages on an event subject with no identical twin in the store: dead-lettered unread.",
    ["consumer"],
)

# Every field a reaction could read is compared with the stored row; `data` as jsonb. Only
# an event with its twin is claimed for the consumer ($12): `first` is false for a repeat.
_CLAIM = """
WITH twin AS (
  SELECT EXISTS (
    SELECT 1 FROM events
     WHERE event_id = $1 AND stream_id = $2 AND stream_version = $3 AND global_position = $4
       AND type = $5 AND data = $6::jsonb AND occurred_at = $7
       AND metadata->'actor'->>'id' = $8 AND metadata->'actor'->>'role' = $9
       AND (metadata->>'correlation_id')::uuid = $10
       AND (metadata->>'causation_id')::uuid IS NOT DISTINCT FROM $11) AS found
), claimed AS (
  INSERT INTO processed_events (consumer, event_id)
  SELECT $12, $1 FROM twin WHERE found
  ON CONFLICT DO NOTHING RETURNING true
)
SELECT (SELECT found FROM twin) AS twin, EXISTS (SELECT 1 FROM claimed) AS first
"""


class ForgedEvent(Exception):
    """A consumed message whose event the store does not hold, or holds otherwise."""

    def __init__(self, event: StoredEvent, subject: str) -> None:
        super().__init__(
            f"forged: no stored event {event.event_id} ({event.type}, stream"
            f" {event.stream_id!r}) matches the message on {subject}; not acted on"
        )


async def claim(conn: Connection, consumer: str, event: StoredEvent) -> tuple[bool, bool]:
    """Claim a delivery for `consumer` inside its transaction, if the store holds this very
    event (same id and same content): return (twin found, first time for this consumer)."""
    row = await conn.fetchrow(
        _CLAIM,
        event.event_id,
        event.stream_id,
        event.stream_version,
        event.global_position,
        event.type,
        event.data,
        event.occurred_at,
        event.actor.id,
        event.actor.role,
        event.correlation_id,
        event.causation_id,
        consumer,
    )
    assert row is not None  # the statement always answers one row
    return bool(row["twin"]), bool(row["first"])


def forged(consumer: str, subject: str, event: StoredEvent) -> ForgedEvent:
    """Count and log a forged message; return the error to dead-letter it with."""
    FORGED_MESSAGES.labels(consumer).inc()
    error = ForgedEvent(event, subject)
    log.warning("%s: %s", consumer, error)
    return error
