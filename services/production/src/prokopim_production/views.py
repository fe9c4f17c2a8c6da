"""Request bodies, responses and the read views production serves over HTTP."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from prokopim_events.contracts import Attachment, CaseFile, Draft
from prokopim_kit.bodies import Files
from prokopim_kit.text import Bounded, Inputs, Key, Note
from prokopim_sop import Service, Sop, Step
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from .domain import EQUIPMENT_KINDS, CaseState


def _body(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


FILES_EXAMPLE = [{"kind": "video", "ref": "doc://recordings/17/raw.mp4", "name": "raw.mp4"}]


class EquipmentBody(BaseModel):
    model_config = _body(
        {"checklist": {"video-recorder": True, "tripod": True, "mic": True, "lighting": False}}
    )

    checklist: Annotated[dict[Key, StrictBool], Bounded("items")] = Field(
        description="item id (the step's kelengkapan, e.g. tripod) -> ticked"
    )


class RecordingBody(BaseModel):
    model_config = _body({"files": FILES_EXAMPLE, "inputs": {"teleprompter": "doc://scripts/17"}})

    files: Files
    inputs: Inputs = Field(
        default_factory=dict,
        description="references or notes per kelengkapan; ticked equipment counts as given",
    )


class DraftBody(BaseModel):
    model_config = _body(
        {
            "files": [{"kind": "video", "ref": "doc://drafts/17/v1.mp4", "name": "draft-v1.mp4"}],
            "notes": "Potongan pertama, 2 menit",
            "inputs": {"computer": "editing suite 2", "internet": "kantor"},
        }
    )

    files: Files
    notes: Note | None = None
    inputs: Inputs = Field(
        default_factory=dict,
        description="a reference or note for every kelengkapan of the step"
        " (for a cover step, the ticked equipment counts as given)",
    )


class EquipmentPreparedResponse(BaseModel):
    case_id: UUID
    event_id: UUID
    step: int
    checklist: dict[str, bool]


class RecordingResponse(BaseModel):
    case_id: UUID
    event_id: UUID
    step: int
    next_step: int | None
    files: list[Attachment]


class DraftResponse(BaseModel):
    case_id: UUID
    event_id: UUID
    step: int
    next_step: int | None
    draft: Draft


class ChecklistItem(BaseModel):
    id: str
    name: str
    ticked: bool


class EquipmentView(BaseModel):
    case_id: UUID
    step: int | None = Field(description="the step production awaits (null when none)")
    kind: str | None
    equipment_required: bool = Field(description="whether the step needs the checklist ticked")
    prepared: bool
    items: list[ChecklistItem]
    extra_items: dict[str, bool] = Field(description="ticked items the step does not require")


class RecordingView(BaseModel):
    step: int
    files: list[Attachment]


class RejectionView(BaseModel):
    reason: str | None
    reviewer: str | None
    draft_version: int | None


class CaseView(BaseModel):
    case_id: UUID
    sop_id: str
    sop_version: str
    case: CaseFile
    awaiting_step: int | None = Field(description="the production step the case waits for")
    current_step: int | None = Field(description="where the case stands, in any service")
    equipment_ready: bool = Field(
        description="the awaited step's equipment is prepared (or the step needs none)"
    )
    equipment: dict[int, dict[str, bool]]
    recordings: list[RecordingView]
    drafts: list[Draft]
    rework_count: int
    last_rejection: RejectionView | None
    last_rejection_reason: str | None


def awaiting_step(state: CaseState, sop: Sop) -> int | None:
    """Return the step production awaits, or None when the case is with another service."""
    current = state.awaiting_step
    if current is None or sop.step(current).service is not Service.PRODUCTION:
        return None
    return current


def case_view(state: CaseState, sop: Sop) -> CaseView:
    """Return production's view of a known case."""
    assert state.case_id is not None and state.case is not None
    rejection = None
    if state.rework_count:
        rejection = RejectionView(
            reason=state.last_rejection_reason,
            reviewer=state.last_rejected_by,
            draft_version=state.last_rejected_version,
        )
    awaiting = awaiting_step(state, sop)
    return CaseView(
        case_id=state.case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        case=state.case,
        awaiting_step=awaiting,
        current_step=state.awaiting_step,
        equipment_ready=awaiting is not None and _equipment_ready(state, sop.step(awaiting)),
        equipment={step: dict(items) for step, items in state.equipment.items()},
        recordings=[RecordingView(step=r.step, files=list(r.files)) for r in state.recordings],
        drafts=list(state.drafts),
        rework_count=state.rework_count,
        last_rejection=rejection,
        last_rejection_reason=state.last_rejection_reason,
    )


def _equipment_ready(state: CaseState, step: Step) -> bool:
    return step.kind not in EQUIPMENT_KINDS or step.number in state.equipment


def equipment_view(state: CaseState, sop: Sop) -> EquipmentView:
    """Return the checklist template of the awaited step and what was ticked for it."""
    assert state.case_id is not None
    number = awaiting_step(state, sop)
    step = sop.step(number) if number is not None else None
    ticked = dict(state.equipment.get(number, {})) if number is not None else {}
    items = list(step.inputs) if step else []
    required = {item.id for item in items}
    return EquipmentView(
        case_id=state.case_id,
        step=number,
        kind=step.kind.value if step else None,
        equipment_required=bool(step and step.kind in EQUIPMENT_KINDS),
        prepared=number in state.equipment,
        items=[ChecklistItem(id=i.id, name=i.name, ticked=ticked.get(i.id) is True) for i in items],
        extra_items={k: v for k, v in ticked.items() if k not in required},
    )
