"""Intake's view of a case: its file, SOP, awaited step and who did which intake step when."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from prokopim_events.contracts import CaseFile, StepCompleted, parse
from prokopim_events.envelope import StoredEvent
from prokopim_events.store import EventStore
from prokopim_kit.commands import fold
from prokopim_kit.errors import UnknownCase
from prokopim_sop import SopCatalog, UnknownSop
from pydantic import BaseModel, ConfigDict

from .domain import CaseState, evolve
from .service import stream_of


class HistoryEntry(BaseModel):
    """One intake step done: the audit trail the SOP's Mutu Baku asks for."""

    model_config = ConfigDict(frozen=True)

    step: int
    event_type: str
    actor_id: str
    role: str
    actor_name: str | None = None
    at: datetime


class CaseView(BaseModel):
    """What intake knows of a case."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    sop_id: str
    sop_version: str
    case: CaseFile
    awaiting_step: int | None
    next_step: int | None
    instruction: str | None
    history: list[HistoryEntry]


def history_of(events: list[StoredEvent]) -> list[HistoryEntry]:
    """Return the steps completed in a stream, with the actor and time of each."""
    entries: list[HistoryEntry] = []
    for event in events:
        contract = parse(event.type, event.data)
        if isinstance(contract, StepCompleted):
            entries.append(
                HistoryEntry(
                    step=contract.step,
                    event_type=event.type,
                    actor_id=event.actor.id,
                    role=event.actor.role,
                    actor_name=event.actor.name,
                    at=event.occurred_at,
                )
            )
    return entries


async def case_view(store: EventStore, catalog: SopCatalog, case_id: UUID) -> CaseView:
    """Return intake's view of a case (UnknownCase when intake never registered it)."""
    events = await store.read_stream(stream_of(case_id))
    state = fold(CaseState(case_id=case_id), evolve, events)
    if state.case is None or state.sop_id is None or state.sop_version is None:
        raise UnknownCase(case_id)
    try:
        awaiting = state.awaiting_here(catalog.get(state.sop_id, state.sop_version))
    except UnknownSop:
        awaiting = None  # the definition was removed; the view still shows the history
    return CaseView(
        case_id=case_id,
        sop_id=state.sop_id,
        sop_version=state.sop_version,
        case=state.case,
        awaiting_step=awaiting,
        next_step=state.awaiting_step,
        instruction=state.instruction,
        history=history_of(events),
    )
