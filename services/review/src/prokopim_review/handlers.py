"""React to other services' events: a draft handed to a review step opens the review."""

from __future__ import annotations

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import Runtime

from .service import CASES


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open review when a completed step's next step is one of review's steps."""
    await CASES.react(runtime, event, conn)
