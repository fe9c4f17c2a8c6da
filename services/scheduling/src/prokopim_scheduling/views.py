"""What scheduling answers: command results and its view of a case (read models only)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from prokopim_events.contracts import Assignment, CaseFile, Requester, RequesterNotified
from prokopim_events.envelope import StoredEvent
from prokopim_sop import Sop
from pydantic import BaseModel, ConfigDict

from .domain import CaseState, Notification


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SopRef(View):
    id: str
    version: str
    title: str


class ScheduleView(View):
    scheduled_at: datetime
    location: str
    notes: str | None = None


class NotificationRecord(View):
    """One notice sent to the requester: what they were told, how and when."""

    notification_id: UUID
    step: int
    channel: str
    message: str
    recipient: Requester
    scheduled_at: datetime
    location: str
    at: datetime | None


class StepResult(View):
    """What a command did: the step done, the step after it, and the scheduling step awaited."""

    case_id: UUID
    sop_id: str
    sop_version: str
    event_id: UUID
    event_type: str
    step: int
    next_step: int | None
    awaiting_step: int | None


class NotificationResult(StepResult):
    notification: NotificationRecord


class CaseView(View):
    """Scheduling's view of a case: where it stands and what was arranged."""

    case_id: UUID
    sop: SopRef
    awaiting_step: int | None
    steps_done: list[int]
    next_step: int | None
    case: CaseFile
    schedule: ScheduleView | None
    notifications: list[NotificationRecord]
    assignments: list[Assignment]
    version: int


def notification_times(events: list[StoredEvent]) -> dict[UUID, datetime]:
    """Return when each notification was sent (the time its event occurred)."""
    return {
        UUID(str(event.data["notification_id"])): event.occurred_at
        for event in events
        if event.type == RequesterNotified.TYPE
    }


def notification_record(
    notification: Notification, times: Mapping[UUID, datetime]
) -> NotificationRecord:
    """Return the record of one notification."""
    return NotificationRecord(
        notification_id=notification.notification_id,
        step=notification.step,
        channel=notification.channel,
        message=notification.message,
        recipient=notification.recipient,
        scheduled_at=notification.scheduled_at,
        location=notification.location,
        at=times.get(notification.notification_id),
    )


def case_view(state: CaseState, sop: Sop, events: list[StoredEvent]) -> CaseView:
    """Return scheduling's view of a case handed to it."""
    assert state.case is not None
    times = notification_times(events)
    schedule = state.schedule
    return CaseView(
        case_id=state.case_id,
        sop=SopRef(id=sop.id, version=sop.version, title=sop.title.id),
        awaiting_step=state.awaiting_here(sop),
        steps_done=list(state.steps_done),
        next_step=state.awaiting_step,
        case=state.case,
        schedule=(
            ScheduleView(
                scheduled_at=schedule.scheduled_at,
                location=schedule.location,
                notes=schedule.notes,
            )
            if schedule
            else None
        ),
        notifications=[notification_record(n, times) for n in state.notifications],
        assignments=list(state.assignments),
        version=events[-1].stream_version if events else 0,
    )
