"""HTTP routes of review: decide on the draft under review, and read a case."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from prokopim_events.contracts import DraftApproved, DraftRejected
from prokopim_kit.auth import CurrentActor
from prokopim_kit.runtime import Runtime, runtime_of
from pydantic import BaseModel, Field

from . import service
from .domain import DecideDraft
from .views import CaseView, load_view

router = APIRouter(tags=["review"])
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


class DecisionRequest(BaseModel):
    """A reviewer's verdict on the draft under review at the awaited step."""

    decision: Literal["approve", "reject"]
    draft_version: int = Field(ge=1, description="the version of the draft being judged")
    reason: str | None = Field(default=None, description="why; required when rejecting")
    note: str | None = Field(default=None, description="optional remark on an approval")
    step: int | None = Field(
        default=None, description="the review step decided on; refused (409) once it moved on"
    )
    inputs: dict[str, str] = Field(
        default_factory=dict, description="required inputs (kelengkapan) by id, e.g. initials"
    )


class DecisionResponse(BaseModel):
    case_id: UUID
    event_id: UUID
    decision: Literal["approve", "reject"]
    step: int
    next_step: int | None
    level: int
    reviewer: str
    draft_version: int
    awaiting_step: int | None


@router.post("/cases/{case_id}/decision")
async def decide(
    case_id: UUID, body: DecisionRequest, actor: CurrentActor, runtime: RuntimeDep
) -> DecisionResponse:
    """Approve (on to the next step) or reject (back, with a reason) the draft."""
    command = DecideDraft(
        verdict=body.decision,
        draft_version=body.draft_version,
        inputs=body.inputs,
        reason=body.reason,
        note=body.note,
        step=body.step,
    )
    done = await service.decide(runtime, case_id, actor, command)
    event = done.contract
    assert isinstance(event, DraftApproved | DraftRejected)
    return DecisionResponse(
        case_id=case_id,
        event_id=done.event_id,
        decision="approve" if isinstance(event, DraftApproved) else "reject",
        step=event.step,
        next_step=event.next_step,
        level=event.level,
        reviewer=event.reviewer,
        draft_version=event.draft.version,
        awaiting_step=done.awaiting_here,
    )


@router.get("/cases/{case_id}")
async def get_case(case_id: UUID, _: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return review's view of a case (404 when review has never seen it)."""
    return await load_view(runtime.store, runtime.catalog, case_id)
