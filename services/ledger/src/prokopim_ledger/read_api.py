"""The read API the console (and any client) needs: SOPs, worklists, search, timelines.

Lists are cursor-paginated: a page carries `items` and `next`, the URL of the following
page (null on the last), also sent as a `Link: <...>; rel="next"` header.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from prokopim_kit.auth import CurrentActor, current_actor
from prokopim_kit.errors import InvalidCommand, UnknownCase
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from prokopim_sop import Sop
from prokopim_sop.errors import UnknownSop

from . import queries
from .api import LedgerDep, NotFound
from .read_examples import (
    POSITION_EXAMPLE,
    SEARCH_EXAMPLE,
    SOP_EXAMPLE,
    SOPS_EXAMPLE,
    TIMELINE_EXAMPLE,
    WORKLIST_EXAMPLE,
    ok,
)
from .sla import standard_seconds
from .worklist import (
    Clock,
    Search,
    case_status,
    decode_cursor,
    encode_cursor,
    search_item,
    search_rows,
    step_labels,
    timeline_rows,
    worklist_item,
    worklist_rows,
)

router = APIRouter(
    dependencies=[Depends(current_actor)],
    tags=["read"],
    responses=problem_responses(UnknownCase, InvalidCommand),
)
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
PageSize = Annotated[int, Query(ge=1, le=500, description="items per page")]
Cursor = Annotated[str | None, Query(description="the `next` cursor of the previous page")]

PROBLEM = {
    "description": "Problem details (RFC 9457)",
    "content": {
        "application/problem+json": {
            "example": {
                "type": "about:blank",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "cursor is not one this API gave out",
                "field": "cursor",
            }
        }
    },
}


def _page(request: Request, response: Response, items: list[Any], cursor: str | None) -> str | None:
    """Return the next page's URL (and set the Link header) when there is one."""
    if cursor is None:
        return None
    url = str(request.url.include_query_params(cursor=cursor))
    url = url.removeprefix(str(request.base_url).rstrip("/"))
    response.headers["Link"] = f'<{url}>; rel="next"'
    return url


def _keyset(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    moment, case_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(moment), UUID(case_id)
    except ValueError as error:
        raise InvalidCommand("cursor is not one this API gave out", field="cursor") from error


def _sop_summary(sop: Sop) -> dict[str, Any]:
    return {
        "id": sop.id,
        "version": sop.version,
        "title": sop.title.model_dump(),
        "city": sop.city,
        "official_number": sop.official_number,
        "steps": len(sop.steps),
        "standard_minutes_total": sop.standard_minutes_total,
        "standard_working_days_total": sop.standard_working_days_total,
        "roles": [role.model_dump() for role in sop.roles],
    }


@router.get("/sops", summary="The installed SOPs, every version", responses=ok(SOPS_EXAMPLE))
async def list_sops(runtime: RuntimeDep) -> dict[str, Any]:
    """List the SOPs this installation runs (id, version, title, roles, step count)."""
    return {"items": [_sop_summary(sop) for sop in runtime.catalog]}


@router.get(
    "/sops/{sop_id}",
    summary="One SOP: steps, roles, required inputs, standard times, outputs",
    responses={**ok(SOP_EXAMPLE), 404: PROBLEM},
)
async def get_sop(
    sop_id: str, runtime: RuntimeDep, ledger: LedgerDep, version: str | None = None
) -> dict[str, Any]:
    """Return an SOP (the latest version unless `version` is given) with its Mutu Baku."""
    try:
        sop = runtime.catalog.get(sop_id, version)
    except UnknownSop as error:
        raise NotFound(str(error), sop_id=sop_id, version=version) from error
    steps = []
    for step in sop.steps:
        steps.append(
            {
                **step.model_dump(mode="json"),
                "role_name": sop.role(step.role).name,
                "standard_seconds": standard_seconds(sop, step.number, ledger.calendar),
            }
        )
    return {
        **_sop_summary(sop),
        "legal_basis": list(sop.legal_basis),
        "records_rule": sop.records_rule,
        "steps": steps,
    }


@router.get(
    "/worklist",
    summary="Cases waiting at a step, with their SLA clocks (oldest first)",
    responses={**ok(WORKLIST_EXAMPLE), 422: PROBLEM},
)
async def worklist(
    request: Request,
    response: Response,
    actor: CurrentActor,
    runtime: RuntimeDep,
    ledger: LedgerDep,
    role: Annotated[
        str | None, Query(description="the role waited for; the caller's role if omitted")
    ] = None,
    all_roles: Annotated[bool, Query(description="every role's waiting cases")] = False,
    assignee: Annotated[str | None, Query(description="only cases assigned to this person")] = None,
    sla: Annotated[
        Literal["late", "at-risk", "breached"] | None,
        Query(description="late = at risk or breached now"),
    ] = None,
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Return the cases waiting for a role: step, since when, working time used / standard."""
    wanted = None if all_roles else (role or actor.role)
    clock = Clock(ledger.clock(), ledger.calendar)
    async with runtime.pool.acquire() as conn:
        rows = await worklist_rows(
            conn,
            role=wanted,
            assignee=assignee,
            sla=sla,
            now=clock.now,
            after=_keyset(cursor),
            limit=limit + 1,
        )
        position = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM ledger_audit")
    more = len(rows) > limit
    rows = rows[:limit]
    items = [worklist_item(row, runtime.catalog, clock) for row in rows]
    after = encode_cursor(rows[-1]["entered_at"], rows[-1]["case_id"]) if more else None
    return {"items": items, "next": _page(request, response, items, after), "position": position}


@router.get(
    "/position",
    summary="The last event position the ledger has projected",
    responses=ok(POSITION_EXAMPLE),
)
async def position(runtime: RuntimeDep) -> dict[str, int]:
    """Return the highest global position in the projections (clients poll it for changes)."""
    async with runtime.pool.acquire() as conn:
        value = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM ledger_audit")
    return {"position": value}


@router.get(
    "/cases",
    summary="Find cases by requester, activity name and date",
    responses={**ok(SEARCH_EXAMPLE), 422: PROBLEM},
)
async def search_cases(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    ledger: LedgerDep,
    requester: Annotated[str | None, Query(description="part of the requester or agency")] = None,
    activity: Annotated[str | None, Query(description="part of the activity's name")] = None,
    activity_date: Annotated[date | None, Query(description="the activity's date")] = None,
    first: Annotated[date | None, Query(alias="from", description="registered on or after")] = None,
    last: Annotated[date | None, Query(alias="to", description="registered on or before")] = None,
    sop_id: str | None = None,
    state: Literal["open", "closed"] | None = None,
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Return matching cases, newest registration first (records are named by activity and date)."""
    start = end = None
    if first is not None or last is not None:
        start, end = queries.day_bounds(
            ledger.calendar, first or date(1970, 1, 1), last or date(9999, 12, 30)
        )
    search = Search(requester, activity, activity_date, start, end, sop_id, state)
    async with runtime.pool.acquire() as conn:
        rows = await search_rows(conn, search, _keyset(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    clock = Clock(ledger.clock(), ledger.calendar)
    items = [search_item(row, clock) for row in rows]
    after = encode_cursor(rows[-1]["registered_at"], rows[-1]["case_id"]) if more else None
    return {"items": items, "next": _page(request, response, items, after)}


@router.get(
    "/cases/{case_id}/timeline",
    summary="A case's timeline across every service, with its step attempts",
    responses={**ok(TIMELINE_EXAMPLE), 404: PROBLEM},
)
async def timeline(case_id: UUID, runtime: RuntimeDep, ledger: LedgerDep) -> dict[str, Any]:
    """Return the case file, every event of the case in store order, and its SLA per attempt."""
    async with runtime.pool.acquire() as conn:
        case, rows = await timeline_rows(conn, case_id)
        _, attempts = await queries.case_attempts(conn, case_id)
    if case is None:
        raise UnknownCase(case_id)
    now = ledger.clock()
    entries = []
    for row in rows:
        entry = queries.audit_entry(row, runtime.catalog)
        entry["data"] = row["data"]
        entries.append(entry)
    views = [queries.attempt_view(a, now, ledger.calendar) for a in attempts]
    running = next((v for v in views if v["running"]), None)
    awaiting = None
    if running is not None:
        awaiting = {
            **running,
            **step_labels(runtime.catalog, case["sop_id"], case["sop_version"], running["step"]),
        }
    return {
        "case_id": str(case_id),
        "sop_id": case["sop_id"],
        "sop_version": case["sop_version"],
        "letter_number": case["letter_number"],
        "subject": case["subject"],
        "requester": case["requester_name"],
        "agency": case["requester_agency"],
        "activity_name": case["activity_name"],
        "activity_date": case["activity_date"].isoformat() if case["activity_date"] else None,
        "registered_at": case["registered_at"].isoformat(),
        "closed_at": case["closed_at"].isoformat() if case["closed_at"] else None,
        "sla_status": case_status(case["status"], running),
        "awaiting": awaiting,
        "attempts": views,
        "entries": entries,
        "as_of": now.astimezone(UTC).isoformat(),
    }
