"""Run review's commands and reactions against its case streams (`review-<case_id>`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from uuid import UUID

from prokopim_events.envelope import Actor
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
