"""The ledger's HTTP routes: audit trails, SLA views and the monitoring report.

Every list comes in pages (`next` link, `Link` header); every query parameter is bounded;
a period is checked (years within DATE_MIN_YEAR..DATE_MAX_YEAR, `from` <= `to`, at most
PERIOD_MAX_DAYS long when both are given).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prokopim_kit.auth import current_actor
from prokopim_kit.errors import CommandRejected, InvalidCommand, UnknownCase
from prokopim_kit.pagination import (
    CursorParam,
    bad_cursor,
    decode_cursor,
    next_link,
    with_link,
)
from prokopim_kit.problems import problem_responses
from prokopim_kit.runtime import Runtime, runtime_of
from prokopim_kit.text import ID_PATTERN, current
from prokopim_sop import Sop
from prokopim_sop.errors import UnknownSop

from . import queries
from .context import LedgerContext
from .export import report_csv, report_html, report_json, to_csv
from .schemas import AttemptPage, AuditPage, CaseSla, MonitoringReportView

router = APIRouter(dependencies=[Depends(current_actor)], tags=["ledger"])

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
Format = Annotated[Literal["json", "csv"], Query(description="json or csv")]
From = Annotated[date | None, Query(alias="from", description="first day (Asia/Jakarta)")]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="rows per page")]
After = Annotated[
    int, Query(ge=0, le=2**63 - 1, description="only rows after this global position")
]
SopId = Annotated[str, Query(min_length=1, max_length=100, pattern=ID_PATTERN)]
Version = Annotated[str | None, Query(min_length=1, max_length=100, pattern=ID_PATTERN)]
ActorId = Annotated[str, Path(min_length=1, max_length=256, pattern=ID_PATTERN)]

CSV: dict[str, Any] = {"text/csv": {"schema": {"type": "string"}}}
HTML: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
Responses = dict[int | str, dict[str, Any]]


class NotFound(CommandRejected):
    status = 404
    code = "not_found"
    title = "No such SOP (or version) installed"


async def ledger_of(request: Request) -> LedgerContext:
    context: LedgerContext = request.app.state.ledger
    return context


LedgerDep = Annotated[LedgerContext, Depends(ledger_of)]


def _period(first: date | None, last: date | None, *, required: bool = False) -> tuple[date, date]:
    """Return the period asked for, checked; without bounds, every year dates may have."""
    limits = current()
    if required and first is None:
        raise InvalidCommand("give the period's first day as ?from=YYYY-MM-DD", field="from")
    if required and last is None:
        raise InvalidCommand("give the period's last day as ?to=YYYY-MM-DD", field="to")
    for name, day in (("from", first), ("to", last)):
        if day is not None and not limits.date_min_year <= day.year <= limits.date_max_year:
            raise InvalidCommand(
                f"'{name}' ({day}) is outside the years {limits.date_min_year}"
                f"..{limits.date_max_year} (DATE_MIN_YEAR..DATE_MAX_YEAR)",
                field=name,
            )
    if first is not None and last is not None and (last - first).days >= limits.period_max_days:
        raise InvalidCommand(
            f"the period {first}..{last} is longer than {limits.period_max_days} days"
            " (PERIOD_MAX_DAYS); ask for shorter periods",
            field="to",
        )
    first = first or date(limits.date_min_year, 1, 1)
    last = last or date(limits.date_max_year, 12, 31)
    if last < first:
        raise InvalidCommand(f"'to' ({last}) is before 'from' ({first})", field="to")
    return first, last


def _sop(runtime: Runtime, sop_id: str, version: str | None) -> Sop:
    try:
        return runtime.catalog.get(sop_id, version)
    except UnknownSop as error:
        raise NotFound(str(error), sop_id=sop_id, version=version) from error


def _start(after: int, cursor: str | None) -> int:
    position = decode_cursor(cursor)
    if position is None:
        return after
    if not isinstance(position, int) or not 0 <= position < 2**63:
        raise bad_cursor()
    return max(after, position)


async def _audit(
    runtime: Runtime, request: Request, fmt: str, limit: int, **filters: Any
) -> Response:
    async with runtime.pool.acquire() as conn:
        rows = await queries.audit_rows(conn, limit=limit + 1, **filters)
    more = len(rows) > limit
    entries = [queries.audit_entry(row, runtime.catalog) for row in rows[:limit]]
    link = next_link(request, None, entries[-1]["global_position"] if more else None)
    if fmt == "csv":
        csv = to_csv(entries, queries.AUDIT_COLUMNS)
        return with_link(Response(csv, media_type="text/csv"), link)
    page = AuditPage.model_validate({"entries": entries, "count": len(entries), "next": link})
    return with_link(JSONResponse(page.model_dump(mode="json")), link)


AUDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": AuditPage, "content": CSV, "description": "the page, as JSON or CSV"},
}


@router.get(
    "/audit/cases/{case_id}",
    summary="Audit trail of one case, in store order",
    response_model=AuditPage,
    responses=AUDIT_RESPONSES | problem_responses(UnknownCase, InvalidCommand),
)
async def case_trail(
    case_id: UUID,
    runtime: RuntimeDep,
    request: Request,
    cursor: CursorParam = None,
    limit: Limit = 1000,
    format: Format = "json",
) -> Response:
    async with runtime.pool.acquire() as conn:
        known = await conn.fetchval(
            "SELECT 1 FROM ledger_audit WHERE case_id = $1 LIMIT 1", case_id
        )
    if not known:
        raise UnknownCase(case_id)
    after = _start(0, cursor)
    return await _audit(runtime, request, format, limit, case_id=case_id, after=after)


@router.get(
    "/audit/actors/{actor_id}",
    summary="What one actor did, optionally in a period",
    response_model=AuditPage,
    responses=AUDIT_RESPONSES | problem_responses(InvalidCommand),
)
async def actor_trail(
    actor_id: ActorId,
    runtime: RuntimeDep,
    ledger: LedgerDep,
    request: Request,
    first: From = None,
    last: To = None,
    after: After = 0,
    cursor: CursorParam = None,
    limit: Limit = 1000,
    format: Format = "json",
) -> Response:
    period = queries.day_bounds(ledger.calendar, *_period(first, last))
    start = _start(after, cursor)
    return await _audit(
        runtime, request, format, limit, actor_id=actor_id, period=period, after=start
    )


@router.get(
    "/audit",
    summary="Every event of a period, in store order",
    response_model=AuditPage,
    responses=AUDIT_RESPONSES | problem_responses(InvalidCommand),
)
async def period_trail(
    runtime: RuntimeDep,
    ledger: LedgerDep,
    request: Request,
    first: From = None,
    last: To = None,
    after: After = 0,
    cursor: CursorParam = None,
    limit: Limit = 1000,
    format: Format = "json",
) -> Response:
    period = queries.day_bounds(ledger.calendar, *_period(first, last, required=True))
    start = _start(after, cursor)
    return await _audit(runtime, request, format, limit, period=period, after=start)


@router.get(
    "/sla/cases/{case_id}",
    summary="SLA of one case: every step attempt and totals",
    response_model=CaseSla,
    responses=problem_responses(UnknownCase),
)
async def case_sla(case_id: UUID, runtime: RuntimeDep, ledger: LedgerDep) -> CaseSla:
    async with runtime.pool.acquire() as conn:
        case, attempts = await queries.case_attempts(conn, case_id)
    if case is None:
        raise UnknownCase(case_id)
    now = ledger.clock()
    views = [queries.attempt_view(a, now, ledger.calendar) for a in attempts]
    steps: dict[int, dict[str, Any]] = {}
    for view in views:
        total = steps.setdefault(
            view["step"],
            {"step": view["step"], "role": view["role"], "attempts": 0, "working_seconds": 0.0},
        )
        total["attempts"] += 1
        total["working_seconds"] += view["working_seconds"]
        total["standard_seconds"] = view["standard_seconds"]
    return CaseSla.model_validate(
        {
            "case_id": case_id,
            "sop_id": case["sop_id"],
            "sop_version": case["sop_version"],
            "opened_at": case["opened_at"],
            "closed_at": case["closed_at"],
            "working_seconds": case["working_seconds"],
            "standard_seconds": case["standard_seconds"],
            "status": case["status"],
            "rework_loops": case["rework_loops"],
            "breaches": case["breaches"],
            "steps": list(steps.values()),
            "attempts": views,
        }
    )


def _attempt_after(cursor: str | None) -> queries.AttemptKey | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        entered, case_id, step, attempt = key
        return (datetime.fromisoformat(entered), UUID(case_id), int(step), int(attempt))
    except (TypeError, ValueError) as error:
        raise bad_cursor() from error


@router.get(
    "/sla/steps",
    summary="Attempts at an SOP's steps entered within a period",
    response_model=AttemptPage,
    responses=Responses({200: {"model": AttemptPage, "content": CSV}})
    | problem_responses(NotFound, InvalidCommand),
)
async def step_sla(
    runtime: RuntimeDep,
    ledger: LedgerDep,
    request: Request,
    sop_id: SopId,
    step: Annotated[int | None, Query(ge=1, le=1000)] = None,
    first: From = None,
    last: To = None,
    cursor: CursorParam = None,
    limit: Limit = 1000,
    format: Format = "json",
) -> Response:
    sop = _sop(runtime, sop_id, None)
    if step is not None and step > len(sop.steps):
        raise InvalidCommand(f"SOP {sop_id} has steps 1..{len(sop.steps)}, not {step}", "step")
    period = queries.day_bounds(ledger.calendar, *_period(first, last))
    after = _attempt_after(cursor)
    async with runtime.pool.acquire() as conn:
        attempts = await queries.step_attempts(
            conn, sop.id, step, period, after=after, limit=limit + 1
        )
    more = len(attempts) > limit
    attempts = attempts[:limit]
    last_key = queries.attempt_key(attempts[-1]) if more else None
    key = [last_key[0].isoformat(), str(last_key[1]), *last_key[2:]] if last_key else None
    now = ledger.clock()
    views = [queries.attempt_view(a, now, ledger.calendar) for a in attempts]
    link = next_link(request, None, key)
    if format == "csv":
        columns = list(views[0]) if views else ["case_id", "step", "attempt"]
        return with_link(Response(to_csv(views, columns), media_type="text/csv"), link)
    page = AttemptPage.model_validate({"attempts": views, "count": len(views), "next": link})
    return with_link(JSONResponse(page.model_dump(mode="json")), link)


@router.get(
    "/reports/monitoring",
    summary="Six-monthly monitoring report of one SOP",
    response_model=MonitoringReportView,
    responses=Responses({200: {"model": MonitoringReportView, "content": CSV | HTML}})
    | problem_responses(NotFound, InvalidCommand),
)
async def monitoring(
    runtime: RuntimeDep,
    ledger: LedgerDep,
    sop_id: SopId,
    first: From = None,
    last: To = None,
    version: Version = None,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
) -> Response:
    sop = _sop(runtime, sop_id, version)
    period = _period(first, last, required=True)
    async with runtime.pool.acquire() as conn:
        report = await queries.report_for(conn, sop, ledger.calendar, *period, version=version)
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv")
    if format == "html":
        return HTMLResponse(report_html(report))
    view = MonitoringReportView.model_validate(report_json(report))
    return JSONResponse(view.model_dump(mode="json"))
