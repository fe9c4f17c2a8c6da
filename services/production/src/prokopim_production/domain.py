"""Production's part of a case, as pure functions: record, edit and cover steps.

`evolve` folds this service's own stream (`production-<case_id>`) into a `CaseState`; the
`decide_*` functions hold every rule and return the contracts to append, or raise one of
the named errors of `prokopim_kit.errors`. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Contract,
    Draft,
    DraftProduced,
    DraftRejected,
    EquipmentPrepared,
    ProductionStepOpened,
    RecordingMade,
    StepCompleted,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import CommandRejected, InvalidCommand, MissingInputs
from prokopim_kit.pipeline import CaseState as Case
from prokopim_kit.steps import check_inputs, guard_step
from prokopim_sop import Service, Sop, Step, StepKind

EQUIPMENT_KINDS = frozenset({StepKind.RECORD, StepKind.COVER})
DRAFT_KINDS = frozenset({StepKind.EDIT, StepKind.COVER})
TICKED = "ticked on the equipment checklist"


@dataclass(frozen=True)
class Recording:
    """Raw material recorded at a step."""

    step: int
    files: tuple[Attachment, ...]


@dataclass(frozen=True)
class CaseState(Case):
    """What production knows of a case (`known` once a hand-over opened it here)."""

    service = Service.PRODUCTION
    case: CaseFile | None = None
    equipment: Mapping[int, Mapping[str, bool]] = field(default_factory=dict)
    recordings: tuple[Recording, ...] = ()
    drafts: tuple[Draft, ...] = ()
    rework_count: int = 0
    last_rejection_reason: str | None = None
    last_rejected_by: str | None = None
    last_rejected_version: int | None = None


@dataclass(frozen=True)
class PrepareEquipment:
    """Tick the step's equipment checklist (its kelengkapan) before recording or covering."""

    checklist: Mapping[str, bool]


@dataclass(frozen=True)
class MakeRecording:
    """Record the raw material of a record step."""

    files: Sequence[Attachment]
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProduceDraft:
    """Produce a new draft version at an edit or cover step."""

    files: Sequence[Attachment]
    inputs: Mapping[str, str] = field(default_factory=dict)
    notes: str | None = None


class MissingCaseFile(ValueError):
    """A hand-over to production came without the case file production needs."""

    def __init__(self, event_type: str, case_id: UUID) -> None:
        super().__init__(f"{event_type} hands case {case_id} over without its case file")


class EquipmentNotPrepared(MissingInputs):
    """422: the step's equipment checklist has not been ticked yet."""

    def __init__(self, step: Step) -> None:
        missing = [item.id for item in step.inputs]
        # Same status, code and body as MissingInputs, with a message saying what to do.
        CommandRejected.__init__(
            self,
            f"step {step.number} needs its equipment prepared first (tick the checklist):"
            f" {', '.join(missing)}",
            step=step.number,
            missing_inputs=missing,
        )


def evolve(state: CaseState, event: Contract) -> CaseState:
    """Return the state after one of production's own events."""
    if isinstance(event, ProductionStepOpened):
        opened = replace(
            state,
            case_id=event.case_id,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            case=event.case,
            awaiting_step=event.step,
        )
        if event.reason != "rework":
            return opened
        return replace(
            opened,
            rework_count=state.rework_count + 1,
            last_rejection_reason=event.rejection_reason,
            last_rejected_by=event.rejected_by,
            last_rejected_version=event.draft.version if event.draft else None,
        )
    if isinstance(event, EquipmentPrepared):
        return replace(state, equipment={**state.equipment, event.step: dict(event.checklist)})
    if isinstance(event, RecordingMade):
        recording = Recording(event.step, tuple(event.files))
        return replace(
            state, recordings=(*state.recordings, recording), awaiting_step=event.next_step
        )
    if isinstance(event, DraftProduced):
        return replace(state, drafts=(*state.drafts, event.draft), awaiting_step=event.next_step)
    return state


def decide_open(
    state: CaseState, sop: Sop, cause: StepCompleted, cause_event_id: UUID
) -> list[Contract]:
    """Open a step on a hand-over, or on a rework when a reviewer rejected the draft.

    A hand-over reaches a case once; a second one for a case already taken up is ignored,
    so a late or repeated hand-over can never move a case back.
    """
    rejected = isinstance(cause, DraftRejected)
    if not rejected and state.known:
        return []
    case, draft = getattr(cause, "case", None), getattr(cause, "draft", None)
    if not isinstance(case, CaseFile):
        raise MissingCaseFile(cause.TYPE, cause.case_id)  # retried, then dead-lettered
    assert cause.next_step is not None  # only a hand-over to a production step gets here
    return [
        ProductionStepOpened(
            case_id=cause.case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=cause.next_step,
            reason="rework" if rejected else "handover",
            cause_event_id=cause_event_id,
            case=case,
            draft=draft if isinstance(draft, Draft) else None,
            rejection_reason=cause.reason if isinstance(cause, DraftRejected) else None,
            rejected_by=cause.reviewer if isinstance(cause, DraftRejected) else None,
        )
    ]


def decide_prepare_equipment(
    state: CaseState, sop: Sop, actor: Actor, command: PrepareEquipment
) -> list[Contract]:
    """Record the ticked checklist; 422 naming every required item missing or unticked."""
    step = guard_step(sop, state.awaiting_step, EQUIPMENT_KINDS, actor.role)
    unticked = [item.id for item in step.inputs if command.checklist.get(item.id) is not True]
    if unticked:
        raise MissingInputs(step.number, unticked)
    return [
        EquipmentPrepared(
            case_id=_case_id(state),
            sop_id=sop.id,
            sop_version=sop.version,
            step=step.number,
            checklist=dict(command.checklist),
        )
    ]


def decide_record(
    state: CaseState, sop: Sop, actor: Actor, command: MakeRecording
) -> list[Contract]:
    """Record the raw material; the step's equipment must have been prepared first."""
    step = guard_step(sop, state.awaiting_step, {StepKind.RECORD}, actor.role)
    _require_files(command.files)
    inputs = _inputs_with_equipment(state, step, command.inputs, required=True)
    return [
        RecordingMade(
            case_id=_case_id(state),
            sop_id=sop.id,
            sop_version=sop.version,
            step=step.number,
            next_step=sop.next_after(step.number),
            inputs=inputs,
            outputs=[item.id for item in step.outputs],
            files=list(command.files),
        )
    ]


def decide_draft(state: CaseState, sop: Sop, actor: Actor, command: ProduceDraft) -> list[Contract]:
    """Produce the next draft version (a cover step needs its equipment prepared first)."""
    step = guard_step(sop, state.awaiting_step, DRAFT_KINDS, actor.role)
    _require_files(command.files)
    inputs = _inputs_with_equipment(
        state, step, command.inputs, required=step.kind in EQUIPMENT_KINDS
    )
    assert state.case is not None  # a known case always has its case file
    draft = Draft(version=len(state.drafts) + 1, files=list(command.files), notes=command.notes)
    return [
        DraftProduced(
            case_id=_case_id(state),
            sop_id=sop.id,
            sop_version=sop.version,
            step=step.number,
            next_step=sop.next_after(step.number),
            inputs=inputs,
            outputs=[item.id for item in step.outputs],
            case=state.case,
            draft=draft,
        )
    ]


def _inputs_with_equipment(
    state: CaseState, step: Step, given: Mapping[str, str], *, required: bool
) -> dict[str, str]:
    """Merge the ticked checklist into the inputs (given references win), then check them.

    Equipment prepared for a step stays valid when a rework reopens that step: reworking
    the material does not mean covering the event again.
    """
    checklist = state.equipment.get(step.number)
    if required and checklist is None:
        raise EquipmentNotPrepared(step)
    ticked = {item: TICKED for item, on in (checklist or {}).items() if on}
    inputs = {**ticked, **{k: v for k, v in given.items() if v.strip()}}
    check_inputs(step, inputs)
    return inputs


def _require_files(files: Sequence[Attachment]) -> None:
    if not files:
        raise InvalidCommand("give at least one file (kind and ref)", field="files")


def _case_id(state: CaseState) -> UUID:
    assert state.case_id is not None  # the service refuses unknown cases before deciding
    return state.case_id
