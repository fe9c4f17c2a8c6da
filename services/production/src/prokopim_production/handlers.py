"""React to other services' events: open a production step on a hand-over or a rework."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime

from .service import CASES


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open the step a hand-over or a rejection sends to production, inside `conn`."""
    await CASES.react(runtime, event, conn)
