"""Review's view of a case: where it waits, the draft under review, every verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from prokopim_events.contracts import CaseFile, Draft, DraftApproved, DraftRejected
from prokopim_events.envelope import StoredEvent
from prokopim_events.store import EventStore
from prokopim_kit.commands import fold
from prokopim_kit.errors import UnknownCase
from prokopim_sop import SopCatalog
from pydantic import BaseModel

from .domain import CaseState, evolve, review_level
from .service import stream_of

_DECISIONS = frozenset({DraftApproved.TYPE, DraftRejected.TYPE})


class DecisionView(BaseModel):
    reviewer: str
    level: int
    step: int
    next_step: int | None
    draft_version: int
    decision: Literal["approve", "reject"]
    reason: str | None
    note: str | None
    at: datetime


class CaseView(BaseModel):
    case_id: UUID
    sop_id: str
    sop_version: str
    awaiting_step: int | None
    awaiting_role: str | None
    awaiting_level: int | None
    case: CaseFile | None
    draft: Draft | None
    decisions: list[DecisionView]


def case_view(events: list[StoredEvent], catalog: SopCatalog) -> CaseView:
    """Build the view of a case from its (non-empty) review stream."""
    state = fold(CaseState(), evolve, events)
    assert state.case_id and state.sop_id and state.sop_version, "streams open with StepOpened"
    sop = catalog.get(state.sop_id, state.sop_version)
    awaiting = state.awaiting_here(sop)
    times = [event.occurred_at for event in events if event.type in _DECISIONS]
    return CaseView(
        case_id=state.case_id,
        sop_id=state.sop_id,
        sop_version=state.sop_version,
        awaiting_step=awaiting,
        awaiting_role=sop.step(awaiting).role if awaiting else None,
        awaiting_level=review_level(sop, awaiting) if awaiting else None,
        case=state.case,
        draft=state.draft,
        decisions=[
            DecisionView(
                reviewer=d.reviewer,
                level=d.level,
                step=d.step,
                next_step=d.next_step,
                draft_version=d.draft_version,
                decision=d.verdict,
                reason=d.reason,
                note=d.note,
                at=at,
            )
            for d, at in zip(state.decisions, times, strict=True)
        ],
    )


async def load_view(store: EventStore, catalog: SopCatalog, case_id: UUID) -> CaseView:
    """Return the view of a case; raise UnknownCase when review never saw it."""
    events = await store.read_stream(stream_of(case_id))
    if not events:
        raise UnknownCase(case_id)
    return case_view(events, catalog)
