"""The office pages: SLA board, monitoring report, media-outlet registry, live events."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from .services import ServiceError
from .web import ConsoleDep, UserDep, render

router = APIRouter(include_in_schema=False)


@router.get("/sla")
async def sla_board(request: Request, console: ConsoleDep, user: UserDep) -> Response:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:  # every late step: the board is short by nature, but pages are followed
        page = await console.services.get(
            user, "ledger", "/worklist", all_roles="true", sla="late", limit=500, cursor=cursor
        )
        items += page["items"]
        if not page["next"]:
            break
        cursor = page["next"].split("cursor=", 1)[1].split("&", 1)[0]
    per_role: dict[str, list[dict[str, Any]]] = defaultdict(list)
    per_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        per_role[item["role_name"] or item["role"]].append(item)
        for person in item["assignees"]:
            per_person[person].append(item)
    return render(
        request,
        console,
        "sla.html",
        items=items,
        per_role=dict(sorted(per_role.items())),
        per_person=dict(sorted(per_person.items())),
    )


def _semester(today: date) -> tuple[date, date]:
    if today.month <= 6:
        return date(today.year, 1, 1), date(today.year, 6, 30)
    return date(today.year, 7, 1), date(today.year, 12, 31)


@router.get("/report")
async def report(
    request: Request,
    console: ConsoleDep,
    user: UserDep,
    sop_id: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> Response:
    sops = (await console.services.get(user, "ledger", "/sops"))["items"]
    start, end = _semester(date.today())
    query = {
        "sop_id": sop_id or sops[0]["id"],
        "from": first or start.isoformat(),
        "to": last or end.isoformat(),
    }
    report, problem = None, None
    try:
        report = await console.services.get(user, "ledger", "/reports/monitoring", **query)
    except ServiceError as error:
        problem = {"service": error.service, "message": error.message}
    return render(
        request, console, "report.html", sops=sops, query=query, report=report, problem=problem
    )


@router.get("/report/download")
async def report_download(
    console: ConsoleDep, user: UserDep, sop_id: str, first: str, last: str, format: str = "csv"
) -> Response:
    fmt = "html" if format == "html" else "csv"
    response = await console.services.request(
        user,
        "GET",
        "ledger",
        "/reports/monitoring",
        params={"sop_id": sop_id, "from": first, "to": last, "format": fmt},
    )
    media = "text/html; charset=utf-8" if fmt == "html" else "text/csv; charset=utf-8"
    name = f"monitoring-{sop_id}-{first}-{last}.{fmt}"
    return Response(
        response.content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _all_outlets(console: Any, user: Any) -> list[Any]:
    """Every registered outlet: publishing lists them a page at a time (`next` cursor)."""
    found: list[Any] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await console.services.get(user, "publishing", "/outlets", **params)
        found += page["outlets"]
        if not page.get("next"):
            return found
        cursor = parse_qs(urlsplit(page["next"]).query).get("cursor", [""])[0]
        params = {"limit": 100, "cursor": cursor}


@router.get("/outlets")
async def outlets(request: Request, console: ConsoleDep, user: UserDep) -> Response:
    listed = await _all_outlets(console, user)
    return render(request, console, "outlets.html", outlets=listed, problem=None, form={})


@router.post("/outlets")
async def add_outlet(request: Request, console: ConsoleDep, user: UserDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    console.sessions.check_csrf(request, form.get("csrf"))
    body = {"name": form.get("name", ""), "email": form.get("email", "")}
    try:
        await console.services.post(user, "publishing", "/outlets", body)
    except ServiceError as error:
        listed = await _all_outlets(console, user)
        problem = {"service": error.service, "message": error.message}
        return render(
            request,
            console,
            "outlets.html",
            status_code=error.status,
            outlets=listed,
            problem=problem,
            form=form,
        )
    return RedirectResponse("/outlets?done=1", status_code=303)


@router.post("/outlets/{outlet_id}/deactivate")
async def deactivate_outlet(
    request: Request, console: ConsoleDep, user: UserDep, outlet_id: str
) -> Response:
    form = await request.form()
    console.sessions.check_csrf(request, str(form.get("csrf", "")))
    try:
        await console.services.post(user, "publishing", f"/outlets/{outlet_id}/deactivate")
    except ServiceError as error:
        listed = await _all_outlets(console, user)
        problem = {"service": error.service, "message": error.message}
        return render(
            request,
            console,
            "outlets.html",
            status_code=error.status,
            outlets=listed,
            problem=problem,
            form={},
        )
    return RedirectResponse("/outlets?done=1", status_code=303)


@router.get("/events")
async def events(request: Request, console: ConsoleDep, user: UserDep) -> Response:
    """Server-sent events: `change` with the case id whenever a case moved."""
    if console.live.full:  # the page still works; the browser retries after a while
        return Response("too many live streams open", status_code=503)
    return StreamingResponse(
        console.live.stream(request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
