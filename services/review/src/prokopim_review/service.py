"""Review's commands and reactions, through the one pipeline (`prokopim_kit.pipeline`)."""

from __future__ import annotations

from uuid import UUID

from prokopim_events.contracts import StepCompleted
from prokopim_events.envelope import Actor
from prokopim_kit.pipeline import Cases, Result
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import CaseState, DecideDraft, decide_draft, decide_open, evolve

CASES = Cases(
    Service.REVIEW,
    CaseState,
    evolve,
    commands={DecideDraft: decide_draft},
    reactions={StepCompleted: decide_open},
)
stream_of = CASES.stream_of


async def decide(
    runtime: Runtime, case_id: UUID, actor: Actor, command: DecideDraft
) -> Result[CaseState]:
    """Approve or reject the draft of a case; raise a CommandRejected when refused."""
    return await CASES.handle(runtime, case_id, actor, command)
