"""Scheduling's HTTP API: read the request, call the service, answer with its result."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status
from prokopim_kit.auth import CurrentActor
from prokopim_kit.runtime import Runtime, runtime_of

from . import booked_steps, service
from .booked_steps import BookedAssignment, BookedSchedule
from .commands import NotifyRequester
from .views import (
    CaseView,
    NotificationRecord,
    NotificationResult,
    StepResult,
    case_view,
    notification_record,
    notification_times,
)

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

router = APIRouter(tags=["scheduling"])


@router.post(
    "/cases/{case_id}/schedule", status_code=status.HTTP_201_CREATED, response_model=StepResult
)
async def coordinate_schedule(
    case_id: UUID, body: BookedSchedule, actor: CurrentActor, runtime: RuntimeDep
) -> StepResult:
    """Coordinate the schedule (kind coordinate-schedule), reserving the crew and items named."""
    return await booked_steps.coordinate_schedule(runtime, actor, case_id, body)


@router.post(
    "/cases/{case_id}/notification",
    status_code=status.HTTP_201_CREATED,
    response_model=NotificationResult,
)
async def notify_requester(
    case_id: UUID, body: NotifyRequester, actor: CurrentActor, runtime: RuntimeDep
) -> NotificationResult:
    """Tell the requester the coordinated schedule (kind notify-requester)."""
    return await service.notify_requester(runtime.store, runtime.catalog, actor, case_id, body)


@router.post(
    "/cases/{case_id}/assignments", status_code=status.HTTP_201_CREATED, response_model=StepResult
)
async def assign_staff(
    case_id: UUID, body: BookedAssignment, actor: CurrentActor, runtime: RuntimeDep
) -> StepResult:
    """Assign the staff or split the coverage teams (kind assign-staff), reserving them."""
    return await booked_steps.assign_staff(runtime, actor, case_id, body)


@router.get("/cases/{case_id}", response_model=CaseView)
async def get_case(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return scheduling's view of a case (404 until the case is handed to scheduling)."""
    loaded = await service.load_case(runtime.store, runtime.catalog, case_id)
    return case_view(loaded.state, loaded.sop, loaded.events)


@router.get("/cases/{case_id}/notifications", response_model=list[NotificationRecord])
async def list_notifications(
    case_id: UUID, actor: CurrentActor, runtime: RuntimeDep
) -> list[NotificationRecord]:
    """Return what the requester was told about the schedule, oldest first."""
    loaded = await service.load_case(runtime.store, runtime.catalog, case_id)
    times = notification_times(loaded.events)
    return [notification_record(n, times) for n in loaded.state.notifications]
