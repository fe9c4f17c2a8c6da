"""Scheduling's lists (crew, equipment, bookings), in cursor pages like every list served.

Each page is read by its sort key (`prokopim_kit.pagination`): the key of a page's last
item, in its cursor, is where the next page starts, so a page costs one indexed query
however far into the list it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from prokopim_kit.auth import CurrentActor
from prokopim_kit.errors import InvalidCommand
from prokopim_kit.pagination import (
    COUNT,
    NEXT,
    CursorParam,
    LimitParam,
    bad_cursor,
    decode_cursor,
    page_of,
)
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from pydantic import BaseModel

from . import resources
from .resources import ResourceView, UnknownOffice

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

router = APIRouter(tags=["bookings"], responses=problem_responses(InvalidCommand))


class ResourcePage(BaseModel):
    """An office's crew members or equipment items, by name."""

    resources: list[ResourceView]
    count: int = COUNT
    next: str | None = NEXT


class BookingRow(BaseModel):
    booking_id: UUID
    case_id: UUID
    resource_id: UUID
    resource: str
    resource_type: str
    role: str | None
    summary: str
    location: str | None
    starts_at: datetime
    ends_at: datetime
    reserved_from: datetime
    reserved_until: datetime
    sequence: int
    status: str
    override_reason: str | None


class BookingPage(BaseModel):
    """Bookings, in the order the route names."""

    bookings: list[BookingRow]
    count: int = COUNT
    next: str | None = NEXT


BOOKING_ROWS = (
    "SELECT b.booking_id, b.case_id, b.resource_id, r.name AS resource, r.type AS resource_type,"
    " b.role, b.summary, b.location, b.starts_at, b.ends_at, lower(b.during) AS reserved_from,"
    " upper(b.during) AS reserved_until, b.sequence, b.status, b.override_reason"
    " FROM scheduling_bookings b JOIN scheduling_resources r USING (resource_id)"
)


def _key(cursor: str | None, kinds: tuple[Callable[[Any], Any], ...]) -> list[Any] | None:
    """Return a cursor's sort key, checked against the kinds of its parts (422 if not)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if not isinstance(key, list) or len(key) != len(kinds):
        raise bad_cursor()
    try:
        parts = [kind(part) for kind, part in zip(kinds, key, strict=True)]
    except (AttributeError, TypeError, ValueError) as error:  # UUID(1): AttributeError
        raise bad_cursor() from error
    if any(isinstance(part, str) and "\x00" in part for part in parts):
        raise bad_cursor()  # PostgreSQL text holds no NUL: it would be a 500
    return parts


async def _resources(
    runtime: Runtime,
    request: Request,
    response: Response,
    office: str,
    type_: Literal["crew", "equipment"],
    cursor: str | None,
    limit: int,
) -> ResourcePage:
    resources.offices(runtime).sops(office)  # 404 for an unknown office
    after = _key(cursor, (str, UUID)) or ["", None]
    rows = await runtime.pool.fetch(
        f"SELECT {resources.COLUMNS} FROM scheduling_resources WHERE office = $1 AND type = $2"
        " AND ($4::uuid IS NULL OR (name, resource_id) > ($3, $4))"
        " ORDER BY name, resource_id LIMIT $5",
        office,
        type_,
        *after,
        limit + 1,
    )
    views = [ResourceView(**dict(row)) for row in rows]
    items, link = page_of(request, response, views, limit, lambda v: [v.name, v.resource_id])
    return ResourcePage(resources=items, count=len(items), next=link)


@router.get(
    "/offices/{office}/crew",
    response_model=ResourcePage,
    responses=problem_responses(UnknownOffice),
)
async def list_crew(
    office: str,
    actor: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> ResourcePage:
    """Return the office's crew members, by name."""
    return await _resources(runtime, request, response, office, "crew", cursor, limit)


@router.get(
    "/offices/{office}/equipment",
    response_model=ResourcePage,
    responses=problem_responses(UnknownOffice),
)
async def list_equipment(
    office: str,
    actor: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> ResourcePage:
    """Return the office's equipment items, by label."""
    return await _resources(runtime, request, response, office, "equipment", cursor, limit)


@router.get(
    "/offices/{office}/bookings",
    response_model=BookingPage,
    responses=problem_responses(UnknownOffice),
)
async def office_bookings(
    office: str,
    actor: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> BookingPage:
    """Return the office's confirmed bookings overlapping from..to (all when not given),
    by reserved start, then resource."""
    resources.offices(runtime).sops(office)
    after = _key(cursor, (datetime.fromisoformat, str, UUID)) or [None, "", None]
    rows = await runtime.pool.fetch(
        f"{BOOKING_ROWS} WHERE b.office = $1 AND b.status = 'confirmed'"
        " AND b.during && tstzrange($2, $3)"
        " AND ($6::uuid IS NULL OR (lower(b.during), r.name, b.booking_id) > ($4, $5, $6))"
        " ORDER BY lower(b.during), r.name, b.booking_id LIMIT $7",
        office,
        start,
        end,
        *after,
        limit + 1,
    )
    bookings = [BookingRow(**dict(row)) for row in rows]
    items, link = page_of(
        request,
        response,
        bookings,
        limit,
        lambda b: [b.reserved_from.isoformat(), b.resource, b.booking_id],
    )
    return BookingPage(bookings=items, count=len(items), next=link)


@router.get("/cases/{case_id}/bookings", response_model=BookingPage)
async def case_bookings(
    case_id: UUID,
    actor: CurrentActor,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> BookingPage:
    """Return a case's bookings, released ones included (status `cancelled`), crew first,
    then equipment, each by name."""
    after = _key(cursor, (str, str, UUID)) or ["", "", None]
    rows = await runtime.pool.fetch(
        f"{BOOKING_ROWS} WHERE b.case_id = $1"
        " AND ($4::uuid IS NULL OR (r.type, r.name, b.booking_id) > ($2, $3, $4))"
        " ORDER BY r.type, r.name, b.booking_id LIMIT $5",
        case_id,
        *after,
        limit + 1,
    )
    bookings = [BookingRow(**dict(row)) for row in rows]
    items, link = page_of(
        request, response, bookings, limit, lambda b: [b.resource_type, b.resource, b.booking_id]
    )
    return BookingPage(bookings=items, count=len(items), next=link)
