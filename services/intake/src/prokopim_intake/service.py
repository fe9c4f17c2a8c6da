"""Intake's commands, through the one pipeline (`prokopim_kit.pipeline`)."""

from __future__ import annotations

import uuid
from uuid import UUID

from prokopim_events.envelope import Actor
from prokopim_kit.errors import InvalidCommand
from prokopim_kit.pipeline import Cases, Result
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service, Sop, SopCatalog, UnknownSop
from pydantic import BaseModel, ConfigDict

from .domain import (
    CaseState,
    GiveDisposition,
    RegisterRequest,
    decide_disposition,
    decide_register,
    evolve,
)

# Intake starts the flow, so it reacts to no other service's events.
CASES = Cases(
    Service.INTAKE,
    CaseState,
    evolve,
    commands={RegisterRequest: decide_register, GiveDisposition: decide_disposition},
)
stream_of = CASES.stream_of


class StepResult(BaseModel):
    """What a command did: the step done, the one after it, and the intake step awaited."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    sop_id: str
    sop_version: str
    step: int
    next_step: int | None
    awaiting_step: int | None

    @classmethod
    def of(cls, result: Result[CaseState]) -> StepResult:
        state = result.state
        assert state.case_id is not None
        return cls(
            case_id=state.case_id,
            sop_id=result.sop.id,
            sop_version=result.sop.version,
            step=state.steps_done[-1],
            next_step=state.awaiting_step,
            awaiting_step=result.awaiting_here,
        )


def requested_sop(catalog: SopCatalog, sop_id: str, version: str | None) -> Sop:
    """Return the SOP a request names; 422 naming `sop_id` or `sop_version` if unknown."""
    try:
        return catalog.get(sop_id, version)
    except UnknownSop as error:
        raise InvalidCommand(
            str(error), field="sop_id" if error.version is None else "sop_version"
        ) from error


async def register(
    runtime: Runtime, actor: Actor, command: RegisterRequest, *, case_id: UUID | None = None
) -> StepResult:
    """Open a new case from a request letter (SOP step 1)."""
    sop = requested_sop(runtime.catalog, command.sop_id, command.sop_version)
    result = await CASES.start(runtime, case_id or uuid.uuid4(), sop, actor, command)
    return StepResult.of(result)


async def give_disposition(
    runtime: Runtime, actor: Actor, case_id: UUID, command: GiveDisposition
) -> StepResult:
    """Record the disposition on a registered case (SOP step 2) and hand it over."""
    return StepResult.of(await CASES.handle(runtime, case_id, actor, command))
