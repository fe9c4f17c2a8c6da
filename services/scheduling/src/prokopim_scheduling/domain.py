"""Scheduling's pure domain: coordinate the schedule, tell the requester, assign the staff.

No I/O: the SOP, the actor's role and ids come in as arguments; decisions return the
published contracts to append or raise the named errors of `prokopim_kit.errors`. Steps
are found by kind, so Bandung (steps 3-5) and Tangerang (step 3 only) run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict
from uuid import UUID

from prokopim_events.contracts import (
    Assignment,
    CaseFile,
    Contract,
    Draft,
    DraftRejected,
    Requester,
    RequesterNotified,
    ScheduleCoordinated,
    SchedulingStepOpened,
    StaffAssigned,
    StepCompleted,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import CommandRejected, InvalidCommand, UnknownCase
from prokopim_kit.pipeline import CaseState as Case
from prokopim_kit.steps import guard_step
from prokopim_sop import Service, Sop, Step, StepKind

from .commands import WIB, AssignStaff, CoordinateSchedule, NotifyRequester

COORDINATE = (StepKind.COORDINATE_SCHEDULE,)
NOTIFY = (StepKind.NOTIFY_REQUESTER,)
ASSIGN = (StepKind.ASSIGN_STAFF,)


class NoSchedule(CommandRejected):
    """The requester can only be told a schedule that has been coordinated."""

    status = 409
    code = "no_schedule"

    def __init__(self, case_id: UUID | None) -> None:
        super().__init__(
            f"case {case_id} has no coordinated schedule to tell the requester",
            case_id=str(case_id),
        )


class HandoverWithoutCase(ValueError):
    """A hand-over to scheduling carried no case file (a broken publisher, not a user error)."""

    def __init__(self, event_type: str, step: int) -> None:
        super().__init__(f"{event_type} hands step {step} to scheduling without a case file")


@dataclass(frozen=True)
class Schedule:
    scheduled_at: datetime
    location: str
    notes: str | None = None


@dataclass(frozen=True)
class Notification:
    notification_id: UUID
    step: int
    channel: str
    message: str
    recipient: Requester
    scheduled_at: datetime
    location: str


@dataclass(frozen=True)
class CaseState(Case):
    """What scheduling knows of one case (`known` once handed over to scheduling)."""

    service = Service.SCHEDULING
    case: CaseFile | None = None
    steps_done: tuple[int, ...] = ()
    schedule: Schedule | None = None
    notifications: tuple[Notification, ...] = ()
    assignments: tuple[Assignment, ...] = ()


@dataclass(frozen=True)
class Notify:
    """Tell the requester: the order as given, and the id its notice is recorded under."""

    request: NotifyRequester
    notification_id: UUID


def evolve(state: CaseState, event: Contract) -> CaseState:
    """Return the state after `event` (events of other kinds leave it unchanged)."""
    if isinstance(event, SchedulingStepOpened):
        return replace(
            state,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            case=event.case,
            awaiting_step=event.step,
        )
    if not isinstance(event, StepCompleted):
        return state
    state = replace(
        state, awaiting_step=event.next_step, steps_done=(*state.steps_done, event.step)
    )
    if isinstance(event, ScheduleCoordinated):
        return replace(state, schedule=Schedule(event.scheduled_at, event.location, event.notes))
    if isinstance(event, RequesterNotified):
        location = state.schedule.location if state.schedule else ""
        notification = Notification(
            event.notification_id,
            event.step,
            event.channel,
            event.message,
            event.recipient,
            event.scheduled_at,
            location,
        )
        return replace(state, notifications=(*state.notifications, notification))
    if isinstance(event, StaffAssigned):
        return replace(state, case=event.case, assignments=tuple(event.assignments))
    return state


def decide_open(
    state: CaseState, sop: Sop, event: StepCompleted, cause_event_id: UUID
) -> list[Contract]:
    """Take the case up when another service's completed step hands it to scheduling."""
    if event.next_step is None or sop.step(event.next_step).service is not Service.SCHEDULING:
        return []
    case = getattr(event, "case", None)
    if not isinstance(case, CaseFile):
        raise HandoverWithoutCase(event.TYPE, event.next_step)
    draft = getattr(event, "draft", None)
    return [
        SchedulingStepOpened(
            case_id=event.case_id,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            step=event.next_step,
            reason="rework" if isinstance(event, DraftRejected) else "handover",
            cause_event_id=cause_event_id,
            case=case,
            draft=draft if isinstance(draft, Draft) else None,
        )
    ]


def decide_coordinate(
    state: CaseState, sop: Sop, actor: Actor, command: CoordinateSchedule
) -> list[Contract]:
    """Record the coordinated schedule at the coordinate-schedule step the case awaits."""
    step = _guard(state, sop, COORDINATE, actor.role, command.inputs)
    return [
        ScheduleCoordinated(
            **_completed(state, sop, step, command.inputs),
            scheduled_at=command.scheduled_at,
            location=command.location,
            notes=command.notes or None,
        )
    ]


def decide_notify(state: CaseState, sop: Sop, actor: Actor, notify: Notify) -> list[Contract]:
    """Tell the requester the coordinated schedule, over a channel they can be reached by."""
    command = notify.request
    step = _guard(state, sop, NOTIFY, actor.role, command.inputs)
    assert state.case is not None  # _guard refuses a case not handed over
    if state.schedule is None:
        raise NoSchedule(state.case_id)
    requester = state.case.requester
    if command.channel == "email" and not requester.email:
        raise InvalidCommand("the requester has no email address on file", field="channel")
    if command.channel == "phone" and not requester.phone:
        raise InvalidCommand("the requester has no phone number on file", field="channel")
    message = (command.message or "").strip() or default_message(state.case, state.schedule)
    return [
        RequesterNotified(
            **_completed(state, sop, step, command.inputs),
            notification_id=notify.notification_id,
            recipient=requester,
            channel=command.channel,
            message=message,
            scheduled_at=state.schedule.scheduled_at,
        )
    ]


def decide_assign(state: CaseState, sop: Sop, actor: Actor, command: AssignStaff) -> list[Contract]:
    """Assign the staff (or split the coverage teams) at the assign-staff step awaited."""
    step = _guard(state, sop, ASSIGN, actor.role, command.inputs)
    assert state.case is not None
    if not command.assignments:
        raise InvalidCommand("assign at least one member of staff", field="assignments")
    return [
        StaffAssigned(
            **_completed(state, sop, step, command.inputs),
            case=state.case,
            assignments=[
                Assignment(name=a.name, role=a.role, team=a.team or None)
                for a in command.assignments
            ],
            scheduled_at=state.schedule.scheduled_at if state.schedule else None,
        )
    ]


def default_message(case: CaseFile, schedule: Schedule) -> str:
    """Compose the schedule notice (in Indonesian, office time) the requester receives."""
    when = schedule.scheduled_at.astimezone(WIB).strftime("%d-%m-%Y pukul %H:%M WIB")
    text = (
        f"Yth. {case.requester.name}, menindaklanjuti surat {case.letter_number}"
        f" ({case.activity_name}), jadwal pelaksanaan: {when}, lokasi {schedule.location}."
    )
    return f"{text} {schedule.notes}" if schedule.notes else text


class _Completion(TypedDict):
    """The fields every step-completing contract shares."""

    case_id: UUID
    sop_id: str
    sop_version: str
    step: int
    next_step: int | None
    inputs: dict[str, str]
    outputs: list[str]


def _guard(
    state: CaseState, sop: Sop, kinds: tuple[StepKind, ...], role: str, inputs: dict[str, str]
) -> Step:
    if not state.known or state.case is None:
        raise UnknownCase(state.case_id)
    return guard_step(sop, state.awaiting_step, kinds, role, inputs)


def _completed(state: CaseState, sop: Sop, step: Step, inputs: dict[str, str]) -> _Completion:
    assert state.case_id is not None  # _guard refuses an unknown case
    return _Completion(
        case_id=state.case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        step=step.number,
        next_step=sop.next_after(step.number),
        inputs=dict(inputs),
        outputs=[item.id for item in step.outputs],
    )
