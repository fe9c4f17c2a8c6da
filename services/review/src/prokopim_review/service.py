"""Run review's commands and reactions against its case streams (`review-<case_id>`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from uuid import UUID

from prokopim_events.contracts import StepCompleted
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.store import EventStore
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.errors import UnknownCase
from prokopim_sop import Sop, SopCatalog

from .domain import (
    SERVICE,
    CaseState,
    DecideDraft,
    VerdictEvent,
    decide_draft,
    decide_open,
    evolve,
)

SYSTEM_ACTOR = Actor(id=SERVICE, role="system")


def stream_id(case_id: UUID) -> str:
    """Return the stream holding review's events of a case."""
    return f"{SERVICE}-{case_id}"


@dataclass(frozen=True)
class Decided:
    """What a decision stored: its event and the case state after it."""

    event_id: UUID
    event: VerdictEvent
    state: CaseState
    sop: Sop


async def decide(
    store: EventStore,
    catalog: SopCatalog,
    case_id: UUID,
    actor: Actor,
    command: DecideDraft,
    *,
    now: datetime | None = None,
) -> Decided:
    """Approve or reject the draft of a case; raise a CommandRejected when refused."""
    stream = stream_id(case_id)
    state, version = await load(store, stream, CaseState(), evolve)
    if version == 0:
        raise UnknownCase(case_id)
    sop = catalog.get(state.sop_id, state.sop_version)
    contracts = decide_draft(state, sop, actor.role, actor.id, command)
    events = to_new_events(contracts, actor=actor, now=now or datetime.now(UTC))
    await append(store, stream, version, events, case_id=case_id)
    return Decided(events[0].event_id, contracts[0], reduce(evolve, contracts, state), sop)


async def open_review(
    store: EventStore, sop: Sop, cause: StoredEvent, event: StepCompleted, conn: Connection
) -> bool:
    """Open review of a handed-over draft inside the consumer's transaction.

    The event id derives from the cause, so a repeated delivery can never store twice.
    """
    contracts = decide_open(sop, event, cause.event_id)
    if not contracts:
        return False
    stream = stream_id(event.case_id)
    _, version = await load(store, stream, CaseState(), evolve, conn)
    events = to_new_events(
        contracts,
        actor=SYSTEM_ACTOR,
        cause=cause,
        event_ids=[uuid.uuid5(cause.event_id, SERVICE)],
    )
    await append(store, stream, version, events, case_id=event.case_id, conn=conn)
    return True
