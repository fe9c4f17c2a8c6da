"""Reactions to other services' events: take a case up when a step is handed to scheduling."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime

from . import agenda, invitations, status_page
from .service import CASES


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open the case at a scheduling step when a completed step names one as next."""
    if await invitations.on_own_event(runtime, event, conn):  # mail the requester once
        return
    await agenda.on_intake(runtime, event, conn)  # a new case goes on the leader's agenda
    await status_page.record(runtime, event, conn)  # a milestone for the requester's page
    await CASES.react(runtime, event, conn)
