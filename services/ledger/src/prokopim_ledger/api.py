"""The ledger's HTTP routes: audit trails, SLA views and the monitoring report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prokopim_kit.auth import current_actor
from prokopim_kit.errors import CommandRejected, InvalidCommand, UnknownCase
from prokopim_kit.runtime import Runtime, runtime_of
from prokopim_sop import Sop
from prokopim_sop.errors import UnknownSop

from . import queries
from .context import LedgerContext
from .export import report_csv, report_html, report_json, to_csv

router = APIRouter(dependencies=[Depends(current_actor)], tags=["ledger"])

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
Format = Annotated[Literal["json", "csv"], Query(description="json or csv")]
From = Annotated[date | None, Query(alias="from", description="first day (Asia/Jakarta)")]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
After = Annotated[int, Query(ge=0, description="only rows after this global position")]


class NotFound(CommandRejected):
    status = 404


def ledger_of(request: Request) -> LedgerContext:
    context: LedgerContext = request.app.state.ledger
    return context


LedgerDep = Annotated[LedgerContext, Depends(ledger_of)]


def _period(first: date | None, last: date | None, *, required: bool = False) -> tuple[date, date]:
    if required and first is None:
        raise InvalidCommand("give the period's first day as ?from=YYYY-MM-DD", field="from")
    if required and last is None:
        raise InvalidCommand("give the period's last day as ?to=YYYY-MM-DD", field="to")
    first, last = first or date(1970, 1, 1), last or date(9999, 12, 30)
    if last < first:
        raise InvalidCommand(f"'to' ({last}) is before 'from' ({first})", field="to")
    return first, last


def _sop(runtime: Runtime, sop_id: str, version: str | None) -> Sop:
    try:
        return runtime.catalog.get(sop_id, version)
    except UnknownSop as error:
        raise NotFound(str(error), sop_id=sop_id, version=version) from error


async def _audit(runtime: Runtime, ledger: LedgerContext, fmt: str, **filters: Any) -> Response:
    async with runtime.pool.acquire() as conn:
        rows = await queries.audit_rows(conn, **filters)
    entries = [queries.audit_entry(row, runtime.catalog) for row in rows]
    if fmt == "csv":
        return Response(to_csv(entries, queries.AUDIT_COLUMNS), media_type="text/csv")
    return JSONResponse({"entries": entries, "count": len(entries)})


@router.get("/audit/cases/{case_id}", summary="Audit trail of one case, in store order")
async def case_trail(
    case_id: UUID, runtime: RuntimeDep, ledger: LedgerDep, format: Format = "json"
) -> Response:
    async with runtime.pool.acquire() as conn:
        known = await conn.fetchval(
            "SELECT 1 FROM ledger_audit WHERE case_id = $1 LIMIT 1", case_id
        )
    if not known:
        raise UnknownCase(case_id)
    return await _audit(runtime, ledger, format, case_id=case_id, limit=100_000)


@router.get("/audit/actors/{actor_id}", summary="What one actor did, optionally in a period")
async def actor_trail(
    actor_id: str,
    runtime: RuntimeDep,
    ledger: LedgerDep,
    first: From = None,
    last: To = None,
    after: After = 0,
    limit: Limit = 1000,
    format: Format = "json",
) -> Response:
    period = queries.day_bounds(ledger.calendar, *_period(first, last))
    return await _audit(
        runtime, ledger, format, actor_id=actor_id, period=period, after=after, limit=limit
    )


@router.get("/audit", summary="Every event of a period, in store order")
async def period_trail(
    runtime: RuntimeDep,
    ledger: LedgerDep,
    first: From = None,
    last: To = None,
    after: After = 0,
    limit: Limit = 1000,
    format: Format = "json",
) -> Response:
    period = queries.day_bounds(ledger.calendar, *_period(first, last, required=True))
    return await _audit(runtime, ledger, format, period=period, after=after, limit=limit)


@router.get("/sla/cases/{case_id}", summary="SLA of one case: every step attempt and totals")
async def case_sla(case_id: UUID, runtime: RuntimeDep, ledger: LedgerDep) -> dict[str, Any]:
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
    return {
        "case_id": str(case_id),
        "sop_id": case["sop_id"],
        "sop_version": case["sop_version"],
        "opened_at": case["opened_at"].isoformat(),
        "closed_at": case["closed_at"].isoformat() if case["closed_at"] else None,
        "working_seconds": case["working_seconds"],
        "standard_seconds": case["standard_seconds"],
        "status": case["status"],
        "rework_loops": case["rework_loops"],
        "breaches": case["breaches"],
        "steps": list(steps.values()),
        "attempts": views,
    }


@router.get("/sla/steps", summary="Attempts at an SOP's steps entered within a period")
async def step_sla(
    runtime: RuntimeDep,
    ledger: LedgerDep,
    sop_id: Annotated[str, Query(min_length=1)],
    step: Annotated[int | None, Query(ge=1)] = None,
    first: From = None,
    last: To = None,
    format: Format = "json",
) -> Response:
    sop = _sop(runtime, sop_id, None)
    if step is not None and step > len(sop.steps):
        raise InvalidCommand(f"SOP {sop_id} has steps 1..{len(sop.steps)}, not {step}", "step")
    period = queries.day_bounds(ledger.calendar, *_period(first, last))
    async with runtime.pool.acquire() as conn:
        attempts = await queries.step_attempts(conn, sop.id, step, period)
    now = ledger.clock()
    views = [queries.attempt_view(a, now, ledger.calendar) for a in attempts]
    if format == "csv":
        columns = list(views[0]) if views else ["case_id", "step", "attempt"]
        return Response(to_csv(views, columns), media_type="text/csv")
    return JSONResponse({"attempts": views, "count": len(views)})


@router.get("/reports/monitoring", summary="Six-monthly monitoring report of one SOP")
async def monitoring(
    runtime: RuntimeDep,
    ledger: LedgerDep,
    sop_id: Annotated[str, Query(min_length=1)],
    first: From = None,
    last: To = None,
    version: str | None = None,
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
    return JSONResponse(report_json(report))
