"""Reads of the ledger's projections, shaped for the HTTP routes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from prokopim_events.db import Connection
from prokopim_sop import Sop, SopCatalog
from prokopim_sop.calendar import WorkingCalendar
from prokopim_sop.errors import UnknownStep

from .alerts import attempt_from_row
from .report import MonitoringReport, Run, monitoring_report
from .sla import Attempt, standard_seconds, status_of

AUDIT_COLUMNS = (
    "global_position",
    "event_id",
    "occurred_at",
    "type",
    "stream_id",
    "case_id",
    "sop_id",
    "sop_version",
    "step",
    "step_name",
    "actor_id",
    "actor_role",
    "actor_name",
    "inputs",
    "outputs",
    "decision",
    "reason",
    "assignments",
)


def day_bounds(calendar: WorkingCalendar, first: date, last: date) -> tuple[datetime, datetime]:
    """Return the instants from the start of `first` to the end of `last`, local days."""
    start = datetime.combine(first, time.min, calendar.zone)
    return start, datetime.combine(last + timedelta(days=1), time.min, calendar.zone)


def _named(items: dict[str, Any] | list[str] | None, known: dict[str, str]) -> Any:
    """Name kelengkapan/output ids after the SOP (id -> name), keeping their references."""
    if items is None:
        return None
    if isinstance(items, dict):
        return [
            {"id": key, "name": known.get(key, key), "reference": value}
            for key, value in items.items()
        ]
    return [{"id": key, "name": known.get(key, key)} for key in items]


def audit_entry(row: Any, catalog: SopCatalog) -> dict[str, Any]:
    """Return one audit row with the SOP's names for its step, inputs and outputs."""
    step_name = None
    inputs, outputs = row["inputs"], row["outputs"]
    if row["sop_id"] and row["step"] is not None:
        try:
            step = catalog.get(row["sop_id"], row["sop_version"]).step(row["step"])
        except (LookupError, UnknownStep):
            step = None
        if step is not None:
            step_name = step.name.id
            inputs = _named(inputs, {i.id: i.name for i in step.inputs})
            outputs = _named(outputs, {o.id: o.name for o in step.outputs})
    return {
        "global_position": row["global_position"],
        "event_id": str(row["event_id"]),
        "occurred_at": row["occurred_at"].isoformat(),
        "type": row["type"],
        "stream_id": row["stream_id"],
        "case_id": str(row["case_id"]) if row["case_id"] else None,
        "sop_id": row["sop_id"],
        "sop_version": row["sop_version"],
        "step": row["step"],
        "step_name": step_name,
        "actor_id": row["actor_id"],
        "actor_role": row["actor_role"],
        "actor_name": row["actor_name"],
        "inputs": inputs,
        "outputs": outputs,
        "decision": row["decision"],
        "reason": row["reason"],
        "assignments": row["assignments"],
    }


async def audit_rows(
    conn: Connection,
    *,
    case_id: UUID | None = None,
    actor_id: str | None = None,
    period: tuple[datetime, datetime] | None = None,
    after: int = 0,
    limit: int = 1000,
) -> list[Any]:
    """Return audit rows in store order, filtered by case, actor and/or period."""
    where, args = ["global_position > $1"], list[Any]([after])
    if case_id is not None:
        args.append(case_id)
        where.append(f"case_id = ${len(args)}")
    if actor_id is not None:
        args.append(actor_id)
        where.append(f"actor_id = ${len(args)}")
    if period is not None:
        args.extend(period)
        where.append(f"occurred_at >= ${len(args) - 1} AND occurred_at < ${len(args)}")
    args.append(limit)
    return await conn.fetch(
        f"SELECT * FROM ledger_audit WHERE {' AND '.join(where)}"
        f" ORDER BY global_position LIMIT ${len(args)}",
        *args,
    )


def attempt_view(a: Attempt, now: datetime, calendar: WorkingCalendar) -> dict[str, Any]:
    """Return an attempt as JSON; a running one is measured up to `now`."""
    used = a.used_at(now, calendar)
    status = a.status if a.status is not None else status_of(used, a.standard_seconds)
    return {
        "case_id": str(a.case_id),
        "sop_id": a.sop_id,
        "sop_version": a.sop_version,
        "step": a.step,
        "attempt": a.attempt,
        "role": a.role,
        "assignees": list(a.assignees),
        "entered_at": a.entered_at.isoformat(),
        "completed_at": a.completed_at.isoformat() if a.completed_at else None,
        "completed_by": a.completed_by,
        "outcome": a.outcome,
        "reason": a.reason,
        "running": a.open,
        "standard_seconds": a.standard_seconds,
        "working_seconds": used,
        "used_share": used / a.standard_seconds if a.standard_seconds else None,
        "status": status.value,
        "at_risk_at": a.at_risk_at.isoformat() if a.at_risk_at else None,
        "breach_at": a.breach_at.isoformat() if a.breach_at else None,
    }


async def case_attempts(conn: Connection, case_id: UUID) -> tuple[Any, list[Attempt]]:
    """Return a case's row (None if unknown) and its attempts in the order entered."""
    case = await conn.fetchrow("SELECT * FROM ledger_cases WHERE case_id = $1", case_id)
    rows = await conn.fetch(
        "SELECT * FROM ledger_step_attempts WHERE case_id = $1"
        " ORDER BY entered_position, step, attempt",
        case_id,
    )
    return case, [attempt_from_row(r) for r in rows]


AttemptKey = tuple[datetime, UUID, int, int]
"""The order of attempts in a period: entered_at, case_id, step, attempt."""


def attempt_key(a: Attempt) -> AttemptKey:
    """Return where an attempt sorts in `step_attempts`."""
    return (a.entered_at, a.case_id, a.step, a.attempt)


async def step_attempts(
    conn: Connection,
    sop_id: str,
    step: int | None,
    period: tuple[datetime, datetime],
    *,
    after: AttemptKey | None = None,
    limit: int = 100_000,
) -> list[Attempt]:
    """Return the attempts of an SOP (one step or all) entered within a period, the first
    `limit` after `after`."""
    start = after or (None, None, None, None)
    rows = await conn.fetch(
        "SELECT * FROM ledger_step_attempts WHERE sop_id = $1 AND ($2::int IS NULL OR step = $2)"
        " AND entered_at >= $3 AND entered_at < $4"
        " AND ($5::timestamptz IS NULL OR (entered_at, case_id, step, attempt)"
        " > ($5::timestamptz, $6::uuid, $7::int, $8::int))"
        " ORDER BY entered_at, case_id, step, attempt LIMIT $9",
        sop_id,
        step,
        *period,
        *start,
        limit,
    )
    return [attempt_from_row(r) for r in rows]


async def report_for(
    conn: Connection,
    sop: Sop,
    calendar: WorkingCalendar,
    first: date,
    last: date,
    *,
    version: str | None,
) -> MonitoringReport:
    """Build the monitoring report of the runs of `sop` completed within [first, last]."""
    start, end = day_bounds(calendar, first, last)
    rows = await conn.fetch(
        "SELECT step, attempt, working_seconds, status, outcome, reason"
        " FROM ledger_step_attempts WHERE sop_id = $1 AND ($2::text IS NULL OR sop_version = $2)"
        " AND completed_at >= $3 AND completed_at < $4",
        sop.id,
        version,
        start,
        end,
    )
    runs = [Run(*row) for row in rows]
    standards = {s.number: standard_seconds(sop, s.number, calendar) for s in sop.steps}
    return monitoring_report(sop, standards, runs, first, last, sop_version=version)
