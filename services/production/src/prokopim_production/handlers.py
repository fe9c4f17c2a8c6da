"""React to other services' events: open a production step on a hand-over or a rework."""

from __future__ import annotations

import logging
import uuid

from prokopim_events.contracts import (
    CONTRACTS,
    CaseFile,
    Draft,
    DraftRejected,
    StepCompleted,
    parse,
    service_of,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, decide_open, evolve
from .service import SERVICE, stream_of

log = logging.getLogger(__name__)

ACTOR = Actor(id=SERVICE, role="system")


class MissingCaseFile(Exception):
    """A hand-over to production came without the case file production needs."""

    def __init__(self, event: StoredEvent) -> None:
        super().__init__(f"{event.type} {event.event_id} hands a case over without its case file")


async def on_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Open the step a hand-over or a rejection sends to production, inside `conn`."""
    if event.type not in CONTRACTS or service_of(event.type) == SERVICE:
        return
    contract = parse(event.type, event.data)
    if not isinstance(contract, StepCompleted) or contract.next_step is None:
        return
    sop = runtime.catalog.get(contract.sop_id, contract.sop_version)
    if sop.step(contract.next_step).service is not Service.PRODUCTION:
        return
    case = getattr(contract, "case", None)
    if not isinstance(case, CaseFile):
        raise MissingCaseFile(event)  # retried, then dead-lettered where operators see it
    draft = getattr(contract, "draft", None)
    rejection = (
        (contract.reason, contract.reviewer) if isinstance(contract, DraftRejected) else None
    )
    stream = stream_of(contract.case_id)
    state, version = await load(runtime.store, stream, CaseState(), evolve, conn=conn)
    contracts = decide_open(
        state,
        case_id=contract.case_id,
        sop=sop,
        step=contract.next_step,
        cause_event_id=event.event_id,
        case=case,
        draft=draft if isinstance(draft, Draft) else None,
        rejection=rejection,
    )
    if not contracts:
        log.info("case %s is already open here; %s ignored", contract.case_id, event.type)
        return
    # A deterministic id makes a repeated delivery find its event already stored.
    event_ids = [uuid.uuid5(event.event_id, SERVICE)]
    events = to_new_events(contracts, actor=ACTOR, cause=event, event_ids=event_ids)
    await append(runtime.store, stream, version, events, case_id=contract.case_id, conn=conn)
