"""Scheduling's HTTP API: read the request, call the service, answer with its result."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from prokopim_kit.auth import CurrentActor
from prokopim_kit.errors import (
    CaseWasCancelled,
    ConcurrentChange,
    InvalidCommand,
    MissingInputs,
    StepOutOfOrder,
    UnknownCase,
    WrongRole,
)
from prokopim_kit.pagination import (
    COUNT,
    NEXT,
    CursorParam,
    LimitParam,
    bad_cursor,
    decode_cursor,
    page_of,
)
from prokopim_kit.privacy import REDACTED_NOTE, redact_case, redact_requester
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from prokopim_sop import Sop
from pydantic import BaseModel

from . import booked_steps, service
from .booked_steps import BookedAssignment, BookedSchedule
from .domain import NoSchedule
from .schemas import NotificationBody
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

COMMAND_ERRORS = (
    WrongRole,
    UnknownCase,
    StepOutOfOrder,
    ConcurrentChange,
    CaseWasCancelled,
    MissingInputs,
)


class NotificationPage(BaseModel):
    """Notices sent to the requester, oldest first."""

    notifications: list[NotificationRecord]
    count: int = COUNT
    next: str | None = NEXT


@router.post(
    "/cases/{case_id}/schedule",
    response_model=StepResult,
    responses=problem_responses(*COMMAND_ERRORS, InvalidCommand, body=True),
)
async def coordinate_schedule(
    case_id: UUID, body: BookedSchedule, actor: CurrentActor, runtime: RuntimeDep
) -> StepResult:
    """Coordinate the schedule (kind coordinate-schedule), reserving the crew and items named."""
    return await booked_steps.coordinate_schedule(runtime, actor, case_id, body)


@router.post(
    "/cases/{case_id}/notifications",
    response_model=NotificationResult,
    responses=problem_responses(*COMMAND_ERRORS, NoSchedule, body=True),
)
async def notify_requester(
    case_id: UUID, body: NotificationBody, actor: CurrentActor, runtime: RuntimeDep
) -> NotificationResult:
    """Tell the requester the coordinated schedule (kind notify-requester)."""
    return await service.notify_requester(runtime, actor, case_id, body)


# The path before resources were named in the plural; kept for clients written against it.
router.add_api_route(
    "/cases/{case_id}/notification",
    notify_requester,
    methods=["POST"],
    response_model=NotificationResult,
    include_in_schema=False,
)


@router.post(
    "/cases/{case_id}/assignments",
    response_model=StepResult,
    responses=problem_responses(*COMMAND_ERRORS, body=True),
)
async def assign_staff(
    case_id: UUID, body: BookedAssignment, actor: CurrentActor, runtime: RuntimeDep
) -> StepResult:
    """Assign the staff or split the coverage teams (kind assign-staff), reserving them."""
    return await booked_steps.assign_staff(runtime, actor, case_id, body)


@router.get(
    "/cases/{case_id}",
    response_model=CaseView,
    responses=problem_responses(UnknownCase),
    description=REDACTED_NOTE,
)
async def get_case(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> CaseView:
    """Return scheduling's view of a case (404 until the case is handed to scheduling)."""
    loaded = await service.load_case(runtime, case_id)
    view = case_view(loaded.state, loaded.sop, loaded.events)
    return view.model_copy(
        update={
            "case": redact_case(view.case, loaded.sop, actor.role),
            "notifications": [_redacted(n, loaded.sop, actor.role) for n in view.notifications],
        }
    )


def _redacted(record: NotificationRecord, sop: Sop, role: str) -> NotificationRecord:
    return record.model_copy(update={"recipient": redact_requester(record.recipient, sop, role)})


@router.get(
    "/cases/{case_id}/notifications",
    response_model=NotificationPage,
    responses=problem_responses(UnknownCase, InvalidCommand),
    description=REDACTED_NOTE,
)
async def list_notifications(
    case_id: UUID,
    actor: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> NotificationPage:
    """Return what the requester was told about the schedule, oldest first."""
    start = decode_cursor(cursor) or 0
    if not isinstance(start, int) or start < 0:
        raise bad_cursor()
    loaded = await service.load_case(runtime, case_id)
    times = notification_times(loaded.events)
    records = [
        _redacted(notification_record(n, times), loaded.sop, actor.role)
        for n in loaded.state.notifications[start : start + limit + 1]
    ]
    items, link = page_of(request, response, records, limit, lambda _: start + limit)
    return NotificationPage(notifications=items, count=len(items), next=link)
