"""Reactions to other services' events: take a case up when a step is handed to scheduling."""

from __future__ import annotations

from prokopim_events.contracts import CaseRescheduled, RequesterNotified, RequestReceived
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


# What `on_event` acts on besides hand-overs: its reschedules and notices (mails), a new
# request (the agenda) and the requester's milestones.
_OWN_TYPES = frozenset(
    {CaseRescheduled.TYPE, RequesterNotified.TYPE, RequestReceived.TYPE, *status_page.MILESTONES}
)


def wants(runtime: Runtime, event: StoredEvent) -> bool:
    """Tell whether `on_event` may act on `event` (the consumer acks the rest at once)."""
    return event.type in _OWN_TYPES or CASES.takes(runtime, event)
