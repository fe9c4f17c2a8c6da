"""Scheduling's commands and reactions, through the one pipeline (`prokopim_kit.pipeline`)."""

from __future__ import annotations

import uuid
from uuid import UUID

from prokopim_events.contracts import StepCompleted
from prokopim_events.envelope import Actor
from prokopim_kit.pipeline import Cases, Loaded, Result
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .commands import AssignStaff, CoordinateSchedule, NotifyRequester
from .domain import (
    CaseState,
    Notify,
    decide_assign,
    decide_coordinate,
    decide_notify,
    decide_open,
    evolve,
)
from .views import NotificationResult, StepResult, notification_record

CASES = Cases(
    Service.SCHEDULING,
    CaseState,
    evolve,
    commands={
        CoordinateSchedule: decide_coordinate,
        Notify: decide_notify,
        AssignStaff: decide_assign,
    },
    reactions={StepCompleted: decide_open},
)
stream_of = CASES.stream_of


async def load_case(runtime: Runtime, case_id: UUID) -> Loaded[CaseState]:
    """Return a case scheduling has been handed; 404 (UnknownCase) otherwise."""
    return await CASES.load(runtime, case_id)


def step_result(result: Result[CaseState]) -> StepResult:
    """Return what a command did, for its HTTP answer."""
    state, sop = result.state, result.sop
    assert state.case_id is not None
    return StepResult(
        case_id=state.case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        event_id=result.event_id,
        event_type=result.contract.TYPE,
        step=state.steps_done[-1],
        next_step=state.awaiting_step,
        awaiting_step=result.awaiting_here,
    )


async def coordinate_schedule(
    runtime: Runtime, actor: Actor, case_id: UUID, command: CoordinateSchedule
) -> StepResult:
    """Record the coordinated schedule (Bandung step 3)."""
    return step_result(await CASES.handle(runtime, case_id, actor, command))


async def notify_requester(
    runtime: Runtime, actor: Actor, case_id: UUID, command: NotifyRequester
) -> NotificationResult:
    """Tell the requester the schedule (Bandung step 4)."""
    nid = uuid.uuid4()
    result = await CASES.handle(runtime, case_id, actor, Notify(command, nid))
    sent = next(n for n in result.state.notifications if n.notification_id == nid)
    record = notification_record(sent, {nid: result.events[-1].occurred_at})
    return NotificationResult(**step_result(result).model_dump(), notification=record)


async def assign_staff(
    runtime: Runtime, actor: Actor, case_id: UUID, command: AssignStaff
) -> StepResult:
    """Assign the staff or coverage teams (Bandung step 5, Tangerang step 3)."""
    return step_result(await CASES.handle(runtime, case_id, actor, command))
