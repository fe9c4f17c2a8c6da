"""Reactions to other services' events: take a case up when its next step is ours."""

from __future__ import annotations

import logging
import uuid

from prokopim_events.contracts import CONTRACTS, StepCompleted, parse, service_of
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, decide_open, evolve
from .service import case_stream

log = logging.getLogger(__name__)

SERVICE = Service.PUBLISHING.value
ACTOR = Actor(id=SERVICE, role="system")


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open publishing's step when another service hands a case over to it."""
    if event.type not in CONTRACTS or service_of(event.type) == SERVICE:
        return
    contract = parse(event.type, event.data)
    if not isinstance(contract, StepCompleted) or contract.next_step is None:
        return
    sop = runtime.catalog.get(contract.sop_id, contract.sop_version)
    if sop.step(contract.next_step).service is not Service.PUBLISHING:
        return
    stream = case_stream(contract.case_id)
    state, version = await load(runtime.store, stream, CaseState(), evolve, conn=conn)
    opened = decide_open(state, sop, contract, event.event_id)
    if not opened:
        log.info("case %s: %s needs no publishing step", contract.case_id, event.type)
        return
    new_events = to_new_events(
        opened,
        actor=ACTOR,
        cause=event,
        # Deterministic: a repeat of the same cause can never be stored twice.
        event_ids=[uuid.uuid5(event.event_id, SERVICE)],
    )
    await append(runtime.store, stream, version, new_events, case_id=contract.case_id, conn=conn)
