"""Reactions to other services' events: take a case up when a step is handed to scheduling."""

from __future__ import annotations

import logging
import uuid

from prokopim_events.contracts import StepCompleted, parse, service_of
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, decide_open, evolve
from .service import stream_of

log = logging.getLogger(__name__)

SERVICE = Service.SCHEDULING.value
ACTOR = Actor(id=SERVICE, role="system")


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open the case at a scheduling step when a completed step names one as next."""
    if service_of(event.type) == SERVICE:
        return
    try:
        contract = parse(event.type, event.data)
    except KeyError:
        log.warning(
            "ignoring %s %s: an event type this version does not know", event.type, event.event_id
        )
        return
    if not isinstance(contract, StepCompleted) or contract.next_step is None:
        return
    # An unknown SOP raises, so the consumer retries and then dead-letters the event where
    # an operator sees it, rather than the case silently never reaching scheduling.
    sop = runtime.catalog.get(contract.sop_id, contract.sop_version)
    opened = decide_open(sop, contract, event.event_id)
    if not opened:
        return
    stream = stream_of(contract.case_id)
    _, version = await load(runtime.store, stream, CaseState(contract.case_id), evolve, conn)
    new_events = to_new_events(
        opened,
        actor=ACTOR,
        cause=event,
        event_ids=[uuid.uuid5(event.event_id, SERVICE)],
    )
    await append(runtime.store, stream, version, new_events, case_id=contract.case_id, conn=conn)
    log.info("case %s opened at step %s", contract.case_id, contract.next_step)
