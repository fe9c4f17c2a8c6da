"""Stuck hand-overs, read from the event store: a case handed to a service that never took it.

A case is stuck when its latest event completes a step whose `next_step` belongs to another
service, and that was longer ago than a threshold: the next service opened no step (it is
down, its consumer dead-lettered the hand-over, or the relay has not published it). A next
step of the *same* service waits for a person, not for a hand-over, and is the SLA's
business (the ledger's at-risk and breached alerts), so it is not counted here. The
ledger's own `prokopim.sla.*` events are left out: they are about a case, not a step of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prokopim_events.contracts import service_of
from prokopim_events.db import Connection
from prokopim_sop import SopCatalog

# The latest event of every case (one pass; the store keeps no index on case ids, so the
# cost grows with the store: docs/observability.md gives the figure), then the hand-overs.
# $2 bounds the pass to the store's last $2 events (NULL: all of them): the latest event of
# a case in that suffix is its latest event at all.
_LATEST_HANDOVERS = """
SELECT case_id, event_id, type, global_position, recorded_at, sop_id, sop_version, step,
       next_step, now() - recorded_at AS waiting
  FROM (SELECT DISTINCT ON (data->>'case_id')
               data->>'case_id' AS case_id, event_id, type, global_position, recorded_at,
               data->>'sop_id' AS sop_id, data->>'sop_version' AS sop_version,
               data->>'step' AS step, data->>'next_step' AS next_step
          FROM events
         WHERE data ? 'case_id' AND type NOT LIKE 'prokopim.sla.%'
           AND ($2::bigint IS NULL OR global_position >
                (SELECT coalesce(max(global_position), 0) FROM events) - $2)
         ORDER BY data->>'case_id', global_position DESC) AS latest
 WHERE next_step IS NOT NULL AND recorded_at < now() - $1::interval
 ORDER BY recorded_at
"""


@dataclass(frozen=True)
class StuckCase:
    """A hand-over nobody took: which case, from whom, to whom, since when."""

    case_id: str
    sop_id: str
    step: int
    next_step: int
    from_service: str
    to_service: str
    event_id: str
    event_type: str
    global_position: int
    handed_over_at: datetime
    waiting_seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-ready values."""
        return {
            **self.__dict__,
            "handed_over_at": self.handed_over_at.isoformat(),
            "waiting_seconds": round(self.waiting_seconds, 1),
        }


async def stuck_cases(
    conn: Connection,
    catalog: SopCatalog,
    older_than: timedelta,
    to_service: str | None = None,
    within_last: int | None = None,
) -> list[StuckCase]:
    """Return the cases whose last hand-over (to `to_service`, or any) waits past `older_than`,
    looking at the store's last `within_last` events (None: all)."""
    found = []
    for row in await conn.fetch(_LATEST_HANDOVERS, older_than, within_last):
        from_service = service_of(row["type"])
        try:
            sop = catalog.get(row["sop_id"], row["sop_version"])
            next_service = sop.step(int(row["next_step"])).service.value
        except Exception:  # an SOP this build does not know: a hand-over nobody can take
            next_service = "unknown"
        if next_service == from_service or to_service not in (None, next_service):
            continue
        found.append(
            StuckCase(
                case_id=row["case_id"],
                sop_id=row["sop_id"],
                step=int(row["step"]),
                next_step=int(row["next_step"]),
                from_service=from_service,
                to_service=next_service,
                event_id=str(row["event_id"]),
                event_type=row["type"],
                global_position=row["global_position"],
                handed_over_at=row["recorded_at"],
                waiting_seconds=row["waiting"].total_seconds(),
            )
        )
    return found
