"""Intake's pure domain: a request letter is registered (step 1), then given a disposition.

No I/O here: the SOP, the actor's role and the new case id come in as arguments, and the
decisions return the published contracts to append (or raise the named errors of
`prokopim_kit.errors`). Which step numbers are intake's is read off the SOP by step kind,
so both cities' SOPs (and local variants) run through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated

from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Contract,
    DispositionGiven,
    Requester,
    RequestReceived,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import StepOutOfOrder, UnknownCase
from prokopim_kit.pipeline import CaseState as Case
from prokopim_kit.steps import guard_step
from prokopim_sop import Service, Sop, Step, StepKind
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

RECEIVE = (StepKind.RECEIVE_REQUEST,)
DISPOSE = (StepKind.DISPOSITION,)

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Command(BaseModel):
    """Base of intake's commands: immutable, unknown fields refused (a typo is a 422)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class RegisterRequest(Command):
    """Register a request letter as a new case at the SOP's first step."""

    sop_id: NonBlank = Field(description="SOP id, e.g. bdg-setda-010-2024")
    sop_version: str | None = Field(default=None, description="None: the latest version")
    letter_number: NonBlank
    requester: Requester
    subject: NonBlank
    activity_name: NonBlank
    activity_date: date
    attachments: list[Attachment] = []
    inputs: dict[str, str] = Field(
        default={}, description="kelengkapan id -> reference or note, for every required input"
    )

    def case_file(self) -> CaseFile:
        """Return the case file every later service receives."""
        return CaseFile(
            letter_number=self.letter_number,
            requester=self.requester,
            subject=self.subject,
            activity_name=self.activity_name,
            activity_date=self.activity_date,
            attachments=self.attachments,
        )


class GiveDisposition(Command):
    """Give the head's disposition (instruction) on a registered request."""

    instruction: NonBlank
    inputs: dict[str, str] = Field(
        default={}, description="kelengkapan id -> reference or note, for every required input"
    )


@dataclass(frozen=True)
class CaseState(Case):
    """What intake knows of one case (`known` once registered)."""

    service = Service.INTAKE
    case: CaseFile | None = None
    steps_done: tuple[int, ...] = ()
    instruction: str | None = None


def evolve(state: CaseState, event: Contract) -> CaseState:
    """Return the state after `event` (events of other kinds leave it unchanged)."""
    if isinstance(event, RequestReceived):
        return replace(
            state,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            case=event.case,
            awaiting_step=event.next_step,
            steps_done=(*state.steps_done, event.step),
        )
    if isinstance(event, DispositionGiven):
        return replace(
            state,
            case=event.case,
            awaiting_step=event.next_step,
            steps_done=(*state.steps_done, event.step),
            instruction=event.instruction,
        )
    return state


def decide_register(
    state: CaseState, sop: Sop, actor: Actor, command: RegisterRequest
) -> list[Contract]:
    """Register the letter at the SOP's first step: by its role, with its inputs."""
    if state.known or state.case_id is None:
        # Case ids are fresh uuid4s, so only a replayed command can land here.
        raise StepOutOfOrder(StepKind.RECEIVE_REQUEST.value, state.awaiting_step)
    step = guard_step(sop, 1, RECEIVE, actor.role, command.inputs)
    return [
        RequestReceived(
            case_id=state.case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=step.number,
            next_step=sop.next_after(step.number),
            inputs=dict(command.inputs),
            outputs=_output_ids(step),
            case=command.case_file(),
        )
    ]


def decide_disposition(
    state: CaseState, sop: Sop, actor: Actor, command: GiveDisposition
) -> list[Contract]:
    """Record the disposition at the step the case awaits: by its role, with its inputs."""
    if (
        state.case_id is None
        or state.case is None
        or state.sop_id is None
        or state.sop_version is None
    ):
        raise UnknownCase(state.case_id)
    step = guard_step(sop, state.awaiting_step, DISPOSE, actor.role, command.inputs)
    return [
        DispositionGiven(
            case_id=state.case_id,
            sop_id=state.sop_id,
            sop_version=state.sop_version,
            step=step.number,
            next_step=sop.next_after(step.number),
            inputs=dict(command.inputs),
            outputs=_output_ids(step),
            case=state.case,
            instruction=command.instruction,
        )
    ]


def _output_ids(step: Step) -> list[str]:
    return [item.id for item in step.outputs]
