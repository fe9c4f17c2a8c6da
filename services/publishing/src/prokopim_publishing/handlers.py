"""Reactions: take a case up when its next step is ours; carry out our own orders."""

from __future__ import annotations

from prokopim_events.contracts import PublicationOrdered, RecordingHandedOver
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.runtime import EventReaction, Runtime

from . import effects, notices
from .ports import Integrations
from .service import CASES


def reactions(integrations: Integrations, delivery_attempts: int) -> EventReaction:
    """Publishing's consumer: hand-overs from other services, and its own publication
    orders (the durable receives publishing's own events too; `handover_to` skips them)."""

    async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
        if event.type == PublicationOrdered.TYPE:
            await effects.on_order(runtime, integrations, delivery_attempts, event, conn)
            return
        if event.type == RecordingHandedOver.TYPE:
            await notices.on_handover(runtime, integrations, delivery_attempts, event, conn)
            return
        await CASES.react(runtime, event, conn)

    return on_event


def wants(runtime: Runtime, event: StoredEvent) -> bool:
    """Tell whether `reactions` may act on `event` (the consumer acks the rest at once)."""
    return event.type in (PublicationOrdered.TYPE, RecordingHandedOver.TYPE) or CASES.takes(
        runtime, event
    )
