"""The case work pages: worklist, case page (timeline, step form), new request, search."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from .accounts import User
from .actions import FormProblem, drafts_of, equipment_ready, latest_draft_version, step_call
from .services import ServiceError
from .web import Console, ConsoleDep, UserDep, render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/worklist", status_code=303)


async def _worklist(console: Console, user: User, cursor: str | None) -> dict[str, Any]:
    page: dict[str, Any] = await console.services.get(
        user, "ledger", "/worklist", role=user.role, cursor=cursor, limit=50
    )
    return page


def _cursor_of(next_url: str | None) -> str | None:
    if not next_url or "cursor=" not in next_url:
        return None
    return next_url.split("cursor=", 1)[1].split("&", 1)[0]


@router.get("/worklist")
async def worklist(
    request: Request, console: ConsoleDep, user: UserDep, cursor: str | None = None
) -> Response:
    page = await _worklist(console, user, cursor)
    return render(
        request, console, "worklist.html", page=page, next_cursor=_cursor_of(page["next"])
    )


@router.get("/worklist/partial")
async def worklist_partial(
    request: Request, console: ConsoleDep, user: UserDep, cursor: str | None = None
) -> Response:
    page = await _worklist(console, user, cursor)
    return render(
        request, console, "_worklist.html", page=page, next_cursor=_cursor_of(page["next"])
    )


@router.get("/search")
async def search(
    request: Request,
    console: ConsoleDep,
    user: UserDep,
    requester: str | None = None,
    activity: str | None = None,
    activity_date: str | None = None,
    cursor: str | None = None,
) -> Response:
    query = {"requester": requester, "activity": activity, "activity_date": activity_date}
    page = None
    if any(query.values()) or cursor:
        page = await console.services.get(user, "ledger", "/cases", cursor=cursor, **query)
    return render(
        request,
        console,
        "search.html",
        query=query,
        page=page,
        next_cursor=_cursor_of(page["next"]) if page else None,
    )


async def _case_context(console: Console, user: User, case_id: str) -> dict[str, Any]:
    timeline: dict[str, Any] = await console.services.get(
        user, "ledger", f"/cases/{case_id}/timeline"
    )
    sop = await console.sop(user, timeline["sop_id"], timeline["sop_version"])
    awaiting = timeline["awaiting"]
    step = sop["steps"][awaiting["step"] - 1] if awaiting else None
    archive_role = None
    types = [entry["type"] for entry in timeline["entries"]]
    if any(t.endswith("recording-handed-over.v1") for t in types) and not any(
        t.endswith("recording-archived.v1") for t in types
    ):
        handover = next(e for e in timeline["entries"] if e["type"].endswith("handed-over.v1"))
        archive_role = handover["data"].get("archivist_role")
    files = [
        {**item, "at": entry["occurred_at"], "step": entry["step"]}
        for entry in timeline["entries"]
        for item in ((entry.get("data") or {}).get("files") or [])
    ]
    attachments = (timeline["entries"][0].get("data") or {}).get("case", {}).get("attachments", [])
    return {
        "case": timeline,
        "sop": sop,
        "step": step,
        "archive_role": archive_role,
        "drafts": drafts_of(timeline["entries"]),
        "files": attachments + files + _input_references(timeline["entries"]),
        "roles": {role["id"]: role["name"] for role in sop["roles"]},
    }


def _input_references(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The references given for the steps' required inputs (Kelengkapan), each once."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        for item in entry.get("inputs") or []:
            ref = item.get("reference") if isinstance(item, dict) else None
            if ref:
                kind = str(item.get("name") or item.get("id") or "")
                found.setdefault((kind, ref), {"kind": kind, "ref": ref, "step": entry["step"]})
    return list(found.values())


@router.get("/cases/{case_id}")
async def case_page(request: Request, console: ConsoleDep, user: UserDep, case_id: str) -> Response:
    context = await _case_context(console, user, case_id)
    return render(request, console, "case.html", **context, form={}, problem=None)


@router.get("/cases/{case_id}/partial")
async def case_partial(
    request: Request, console: ConsoleDep, user: UserDep, case_id: str
) -> Response:
    context = await _case_context(console, user, case_id)
    return render(request, console, "_case.html", **context, form={}, problem=None)


@router.post("/cases/{case_id}/step")
async def do_step(request: Request, console: ConsoleDep, user: UserDep, case_id: str) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    console.sessions.check_csrf(request, form.get("csrf"))
    context = await _case_context(console, user, case_id)
    step = context["step"]
    problem, status = None, 200
    try:
        if step is None or int(form.get("step", 0)) != step["number"]:
            raise FormProblem("step", "the case moved on; the page now shows where it waits")
        await _service_caught_up(console, user, case_id, step)
        if step["kind"] in ("record", "cover") and await equipment_ready(
            console.services, user, case_id
        ):
            form["equipment_ready"] = "done"
        draft_version = latest_draft_version(context["case"]["entries"])
        calls = step_call(case_id, step, form, draft_version)
        for call in calls:
            await console.services.post(user, call.service, call.path, call.body)
        await _ledger_caught_up(
            console, user, case_id, len(context["case"]["entries"]) + len(calls)
        )
    except FormProblem as error:
        problem, status = {"field": error.field, "message": str(error)}, 422
    except ServiceError as error:
        problem, status = {"service": error.service, "message": error.message}, error.status
    if problem is not None:
        return render(
            request,
            console,
            "case.html",
            status_code=status,
            **context,
            form=form,
            problem=problem,
        )
    return RedirectResponse(f"/cases/{case_id}?done=1", status_code=303)


@router.post("/cases/{case_id}/archive")
async def archive(request: Request, console: ConsoleDep, user: UserDep, case_id: str) -> Response:
    form = await request.form()
    console.sessions.check_csrf(request, str(form.get("csrf", "")))
    try:
        before = len(
            (await console.services.get(user, "ledger", f"/cases/{case_id}/timeline"))["entries"]
        )
        await console.services.post(user, "publishing", f"/cases/{case_id}/archive")
        await _ledger_caught_up(console, user, case_id, before + 1)
    except ServiceError as error:
        context = await _case_context(console, user, case_id)
        problem = {"service": error.service, "message": error.message}
        return render(
            request,
            console,
            "case.html",
            status_code=error.status,
            **context,
            form={},
            problem=problem,
        )
    return RedirectResponse(f"/cases/{case_id}?done=1", status_code=303)


@router.get("/requests/new")
async def new_request_page(
    request: Request, console: ConsoleDep, user: UserDep, sop_id: str | None = None
) -> Response:
    sops = (await console.services.get(user, "ledger", "/sops"))["items"]
    chosen = await console.sop(user, sop_id) if sop_id else None
    return render(
        request, console, "new_request.html", sops=sops, chosen=chosen, form={}, problem=None
    )


@router.post("/requests/new")
async def new_request(request: Request, console: ConsoleDep, user: UserDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    console.sessions.check_csrf(request, form.get("csrf"))
    sop = await console.sop(user, form.get("sop_id", ""))
    first = sop["steps"][0]
    attachments = [
        {"kind": "letter", "ref": line.strip()}
        for line in form.get("attachments", "").splitlines()
        if line.strip()
    ]
    body = {
        "sop_id": sop["id"],
        "sop_version": sop["version"],
        "letter_number": form.get("letter_number", ""),
        "requester": {
            "name": form.get("requester", ""),
            "agency": form.get("agency", ""),
            **({"email": form["email"]} if form.get("email") else {}),
        },
        "subject": form.get("subject", ""),
        "activity_name": form.get("activity_name", ""),
        "activity_date": form.get("activity_date") or date.today().isoformat(),
        "attachments": attachments,
        "inputs": {
            item["id"]: form[f"in-{item['id']}"].strip()
            for item in first["inputs"]
            if form.get(f"in-{item['id']}", "").strip()
        },
    }
    try:
        created = await console.services.post(user, "intake", "/cases", body)
    except ServiceError as error:
        sops = (await console.services.get(user, "ledger", "/sops"))["items"]
        return render(
            request,
            console,
            "new_request.html",
            status_code=error.status,
            sops=sops,
            chosen=sop,
            form=form,
            problem={"service": error.service, "message": error.message},
        )
    await _ledger_caught_up(console, user, str(created["case_id"]), 1)
    return RedirectResponse(f"/cases/{created['case_id']}?done=1", status_code=303)


async def _service_caught_up(
    console: Console, user: User, case_id: str, step: dict[str, Any]
) -> None:
    """Wait (a few seconds at most) until the step's service has taken the case up: the
    ledger may show a step before the hand-over event reached the service that owns it."""
    deadline = time.monotonic() + console.settings.console_live_wait_seconds
    while time.monotonic() < deadline:
        try:
            view = await console.services.get(user, step["service"], f"/cases/{case_id}")
            if view.get("awaiting_step") == step["number"]:
                return
        except ServiceError as error:
            if error.status != 404:
                return  # let the command itself say what is wrong
        await asyncio.sleep(0.05)


async def _ledger_caught_up(console: Console, user: User, case_id: str, entries: int) -> None:
    """Wait (a few seconds at most) until the ledger shows the case's new events, so the
    page the person is sent to shows where the case waits now."""
    deadline = time.monotonic() + console.settings.console_live_wait_seconds
    while time.monotonic() < deadline:
        try:
            timeline = await console.services.get(user, "ledger", f"/cases/{case_id}/timeline")
            if len(timeline["entries"]) >= entries:
                return
        except ServiceError as error:
            if error.status != 404:
                raise
        await asyncio.sleep(0.05)
