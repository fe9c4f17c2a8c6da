"""Reactions to other services' events: take a case up when its next step is ours."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.handover import handover_to, open_step
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, decide_open, evolve
from .service import case_stream


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open publishing's step when another service hands a case over to it."""
    handover = handover_to(Service.PUBLISHING, runtime.catalog, event)
    if handover is None:
        return
    await open_step(
        runtime,
        handover,
        conn,
        stream=case_stream(handover.case_id),
        initial=CaseState(),
        evolve=evolve,
        decide=lambda state: decide_open(state, handover.sop, handover.contract, event.event_id),
    )
