"""Scheduling's HTTP routes for resources, bookings, reschedule/cancel and calendar feeds."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import HTMLResponse
from prokopim_kit.auth import CurrentActor
from prokopim_kit.errors import CaseWasCancelled, ConcurrentChange, UnknownCase, WrongRole
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from pydantic import BaseModel

from . import booked_steps, feeds, resources, status_page
from .booked_steps import CancelCase, CaseChange, RescheduleCase
from .bookings import BookingClash, ResourceInRepair
from .feeds import UnknownFeed
from .resources import CrewMemberBody, EquipmentItemBody, ResourceView, UnknownOffice

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

# Every route here needs a bearer token, and answers its refusals as problem details.
router = APIRouter(
    tags=["bookings"],
    responses=problem_responses(
        WrongRole,
        UnknownCase,
        UnknownOffice,
        UnknownFeed,
        BookingClash,
        ResourceInRepair,
        CaseWasCancelled,
        ConcurrentChange,
        body=True,
    ),
)
# Reached without a bearer token: a calendar app's feed URL (its secret in the query) and
# the requester's status page (the link mailed to them is the credential).
public = APIRouter(tags=["bookings"], responses=problem_responses(UnknownFeed, authenticated=False))


@router.post(
    "/offices/{office}/crew", status_code=status.HTTP_201_CREATED, response_model=ResourceView
)
async def register_crew(
    office: str, body: CrewMemberBody, actor: CurrentActor, runtime: RuntimeDep
) -> ResourceView:
    """Register a crew member (name, SOP roles they can fill, contact)."""
    return await resources.register(runtime, actor, office, body)


@router.put("/offices/{office}/crew/{resource_id}", response_model=ResourceView)
async def update_crew(
    office: str, resource_id: UUID, body: CrewMemberBody, actor: CurrentActor, runtime: RuntimeDep
) -> ResourceView:
    """Replace a crew member's record."""
    return await resources.update(runtime, actor, office, resource_id, body)


@router.post(
    "/offices/{office}/equipment",
    status_code=status.HTTP_201_CREATED,
    response_model=ResourceView,
)
async def register_equipment(
    office: str, body: EquipmentItemBody, actor: CurrentActor, runtime: RuntimeDep
) -> ResourceView:
    """Register an equipment item (kind from the office's SOPs, label, condition)."""
    return await resources.register(runtime, actor, office, body)


@router.put("/offices/{office}/equipment/{resource_id}", response_model=ResourceView)
async def update_equipment(
    office: str,
    resource_id: UUID,
    body: EquipmentItemBody,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> ResourceView:
    """Replace an equipment item's record (e.g. mark it in repair)."""
    return await resources.update(runtime, actor, office, resource_id, body)


@router.post("/cases/{case_id}/reschedule", response_model=CaseChange)
async def reschedule_case(
    case_id: UUID, body: RescheduleCase, actor: CurrentActor, runtime: RuntimeDep
) -> CaseChange:
    """Move the case's activity; its bookings move too (409 naming a clash)."""
    return await booked_steps.reschedule(runtime, actor, case_id, body)


@router.post("/cases/{case_id}/cancel", response_model=CaseChange)
async def cancel_case(
    case_id: UUID, body: CancelCase, actor: CurrentActor, runtime: RuntimeDep
) -> CaseChange:
    """Cancel the case: bookings released, agenda entry cancelled, SLA clocks stopped."""
    return await booked_steps.cancel(runtime, actor, case_id, body)


@router.post("/feeds", status_code=status.HTTP_201_CREATED, response_model=feeds.FeedView)
async def create_feed(
    body: feeds.NewFeed, actor: CurrentActor, runtime: RuntimeDep
) -> feeds.FeedView:
    """Issue a calendar feed URL with its own secret (shown only in this answer)."""
    return await feeds.create_feed(runtime, actor, body)


@router.post("/feeds/{feed_id}/revoke", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_feed(feed_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> Response:
    """Revoke a feed: its URL answers 404 from now on."""
    await feeds.revoke_feed(runtime, actor, feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public.get(
    "/calendars/{feed_id}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(
    feed_id: UUID, runtime: RuntimeDep, token: Annotated[str, Query(min_length=1)]
) -> Response:
    """The iCalendar feed itself: no bearer token, the feed's secret is in its URL."""
    body = await feeds.render_feed(runtime, feed_id, token)
    return Response(body, media_type="text/calendar; charset=utf-8")


class StatusLink(BaseModel):
    path: str


@router.post("/cases/{case_id}/status-link", response_model=StatusLink)
async def status_link(case_id: UUID, actor: CurrentActor, runtime: RuntimeDep) -> StatusLink:
    """Return the path of the requester's status page (the same every time)."""
    return StatusLink(path=status_page.status_path(runtime, case_id))


@public.get("/status/{case_id}/{token}", response_class=HTMLResponse)
async def requester_status(case_id: UUID, token: str, runtime: RuntimeDep) -> HTMLResponse:
    """The requester's status page (no login: the link is the credential)."""
    return HTMLResponse(await status_page.render(runtime, case_id, token))
