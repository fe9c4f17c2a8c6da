"""Reactions to other services' events: take a case up when its next step is ours."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime

from .service import CASES


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open publishing's step when another service hands a case over to it."""
    await CASES.react(runtime, event, conn)
