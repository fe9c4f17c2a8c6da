"""HTTP routes: read the request, build a command, hand it to the service."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from prokopim_events.contracts import DraftProduced, EquipmentPrepared, RecordingMade
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

from .domain import MakeRecording, PrepareEquipment, ProduceDraft
from .service import execute, load_case
from .views import (
    CaseView,
    DraftBody,
    DraftResponse,
    EquipmentBody,
    EquipmentPreparedResponse,
    EquipmentView,
    RecordingBody,
    RecordingResponse,
    case_view,
    equipment_view,
)

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

router = APIRouter(prefix="/cases", tags=["production"])

COMMAND_ERRORS = problem_responses(
    WrongRole,
    UnknownCase,
    StepOutOfOrder,
    ConcurrentChange,
    CaseWasCancelled,
    MissingInputs,
    InvalidCommand,
    body=True,
)


# Reads need a token too (any role): the case file names the requester and their contacts.
@router.get("/{case_id}", responses=problem_responses(UnknownCase), description=REDACTED_NOTE)
async def get_case(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return production's view of a case: steps, equipment, recordings, drafts, rework."""
    loaded = await load_case(runtime, case_id)
    view = case_view(loaded.state, loaded.sop)
    return view.model_copy(update={"case": redact_case(view.case, loaded.sop, actor.role)})


@router.get("/{case_id}/equipment", responses=problem_responses(UnknownCase))
async def get_equipment(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> EquipmentView:
    """Return the awaited step's equipment checklist and what was ticked."""
    loaded = await load_case(runtime, case_id)
    return equipment_view(loaded.state, loaded.sop)


@router.post("/{case_id}/equipment", responses=COMMAND_ERRORS)
async def prepare_equipment(
    case_id: UUID, body: EquipmentBody, actor: CurrentActor, runtime: RuntimeDep
) -> EquipmentPreparedResponse:
    """Tick the equipment of a record or cover step (the step stays open)."""
    command = PrepareEquipment(checklist=body.checklist)
    outcome = await execute(runtime, case_id, actor, command)
    prepared = outcome.contract
    assert isinstance(prepared, EquipmentPrepared)
    return EquipmentPreparedResponse(
        case_id=case_id,
        event_id=outcome.event_id,
        step=prepared.step,
        checklist=prepared.checklist,
    )


@router.post("/{case_id}/recording", responses=COMMAND_ERRORS)
async def make_recording(
    case_id: UUID, body: RecordingBody, actor: CurrentActor, runtime: RuntimeDep
) -> RecordingResponse:
    """Record the raw material of a record step; its equipment must be prepared first."""
    command = MakeRecording(files=body.files, inputs=body.inputs)
    outcome = await execute(runtime, case_id, actor, command)
    made = outcome.contract
    assert isinstance(made, RecordingMade)
    return RecordingResponse(
        case_id=case_id,
        event_id=outcome.event_id,
        step=made.step,
        next_step=made.next_step,
        files=made.files,
    )


@router.post("/{case_id}/drafts", responses=COMMAND_ERRORS)
async def produce_draft(
    case_id: UUID, body: DraftBody, actor: CurrentActor, runtime: RuntimeDep
) -> DraftResponse:
    """Produce the next draft version at an edit or cover step and hand it to review."""
    command = ProduceDraft(files=body.files, inputs=body.inputs, notes=body.notes)
    outcome = await execute(runtime, case_id, actor, command)
    produced = outcome.contract
    assert isinstance(produced, DraftProduced)
    return DraftResponse(
        case_id=case_id,
        event_id=outcome.event_id,
        step=produced.step,
        next_step=produced.next_step,
        draft=produced.draft,
    )
