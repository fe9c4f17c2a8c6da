"""React to other services' events: a draft handed to a review step opens the review."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.handover import handover_to, open_step
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, decide_open, evolve
from .service import stream_id


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open review when a completed step's next step is one of review's steps."""
    handover = handover_to(Service.REVIEW, runtime.catalog, event)
    if handover is None:
        return
    await open_step(
        runtime,
        handover,
        conn,
        stream=stream_id(handover.case_id),
        initial=CaseState(),
        evolve=evolve,
        decide=lambda _: decide_open(handover.sop, handover.contract, event.event_id),
    )
