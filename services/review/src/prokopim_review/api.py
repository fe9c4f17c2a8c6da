"""HTTP routes of review: decide on the draft under review, and read a case."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from prokopim_events.contracts import DraftApproved, DraftRejected
from prokopim_kit.auth import CurrentActor
from prokopim_kit.errors import (
    CaseWasCancelled,
    ConcurrentChange,
    InvalidCommand,
    MissingInputs,
    StepOutOfOrder,
    UnknownCase,
    WrongRole,
)
from prokopim_kit.privacy import REDACTED_NOTE, redact_case
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from prokopim_kit.text import Inputs, Note
from prokopim_sop import UnknownSop
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from . import service
from .domain import DecideDraft, StaleDraft
from .views import CaseView, load_view

router = APIRouter(tags=["review"])
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


class DecisionRequest(BaseModel):
    """A reviewer's verdict on the draft under review at the awaited step."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision": "reject",
                    "draft_version": 1,
                    "reason": "Logo kota belum tampil di awal video",
                    "step": 8,
                    "inputs": {"draft-recording": "doc://drafts/17/v1.mp4"},
                },
                {"decision": "approve", "draft_version": 2, "step": 9, "inputs": {}},
            ]
        },
    )

    decision: Literal["approve", "reject"]
    draft_version: StrictInt = Field(
        ge=1, le=1_000_000, description="the version of the draft being judged"
    )
    reason: Note | None = Field(default=None, description="why; required when rejecting")
    note: Note | None = Field(default=None, description="optional remark on an approval")
    step: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1_000,
        description="the review step decided on; refused (409) once it moved on",
    )
    inputs: Inputs = Field(
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


@router.post(
    "/cases/{case_id}/decisions",
    responses=problem_responses(
        WrongRole,
        UnknownCase,
        StepOutOfOrder,
        StaleDraft,
        ConcurrentChange,
        CaseWasCancelled,
        MissingInputs,
        InvalidCommand,
        body=True,
    ),
)
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


# The path before resources were named in the plural; kept for clients written against it.
router.add_api_route(
    "/cases/{case_id}/decision",
    decide,
    methods=["POST"],
    include_in_schema=False,
)


@router.get("/cases/{case_id}", responses=problem_responses(UnknownCase), description=REDACTED_NOTE)
async def get_case(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return review's view of a case (404 when review has never seen it)."""
    view = await load_view(runtime.store, runtime.catalog, case_id)
    if view.case is None:
        return view
    try:
        sop = runtime.catalog.get(view.sop_id, view.sop_version)
    except UnknownSop:
        sop = None
    return view.model_copy(update={"case": redact_case(view.case, sop, actor.role)})
