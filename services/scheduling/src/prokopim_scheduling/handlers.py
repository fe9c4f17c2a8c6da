"""Reactions to other services' events: take a case up when a step is handed to scheduling."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.handover import handover_to, open_step
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from . import agenda, status_page
from .domain import CaseState, decide_open, evolve
from .service import stream_of


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open the case at a scheduling step when a completed step names one as next."""
    await agenda.on_intake(runtime, event, conn)  # a new case goes on the leader's agenda
    await status_page.record(runtime, event, conn)  # a milestone for the requester's page
    handover = handover_to(Service.SCHEDULING, runtime.catalog, event)
    if handover is None:
        return
    await open_step(
        runtime,
        handover,
        conn,
        stream=stream_of(handover.case_id),
        initial=CaseState(handover.case_id),
        evolve=evolve,
        decide=lambda _: decide_open(handover.sop, handover.contract, event.event_id),
    )
