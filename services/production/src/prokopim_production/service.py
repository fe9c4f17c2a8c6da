"""Production's commands and reactions, through the one pipeline (`prokopim_kit.pipeline`)."""

from __future__ import annotations

from uuid import UUID

from prokopim_events.contracts import StepCompleted
from prokopim_events.envelope import Actor
from prokopim_kit.pipeline import Cases, Loaded, Result
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import (
    CaseState,
    MakeRecording,
    PrepareEquipment,
    ProduceDraft,
    decide_draft,
    decide_open,
    decide_prepare_equipment,
    decide_record,
    evolve,
)

CASES = Cases(
    Service.PRODUCTION,
    CaseState,
    evolve,
    commands={
        PrepareEquipment: decide_prepare_equipment,
        MakeRecording: decide_record,
        ProduceDraft: decide_draft,
    },
    reactions={StepCompleted: decide_open},
)
stream_of = CASES.stream_of
SERVICE = CASES.service.value  # the process's name


async def load_case(runtime: Runtime, case_id: UUID) -> Loaded[CaseState]:
    """Return a case production was handed; 404 (UnknownCase) otherwise."""
    return await CASES.load(runtime, case_id)


async def execute(
    runtime: Runtime,
    case_id: UUID,
    actor: Actor,
    command: PrepareEquipment | MakeRecording | ProduceDraft,
) -> Result[CaseState]:
    """Run a command on a case as `actor` and append its events (409 if another won)."""
    return await CASES.handle(runtime, case_id, actor, command)
