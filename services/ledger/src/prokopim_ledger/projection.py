"""The projection, shared by the live consumer and the rebuild so both write the same bytes.

Audit rows come from the `ledger_audit_source` view (one SQL definition of what an audit
row says about an event). Step attempts and cases come from the pure SLA fold over a case's
step-completing audit rows; the row encoders below are the only way either path turns the
fold's result into table rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any
from uuid import UUID

import asyncpg
from prokopim_events.db import Connection
from prokopim_events.migrations import Migration
from prokopim_sop import SopCatalog

from .calendar import WorkingCalendar
from .sla import Attempt, CaseSla, Fact, Status, fold_case

AUDIT_TABLE = "ledger_audit"
ATTEMPTS_TABLE = "ledger_step_attempts"
CASES_TABLE = "ledger_cases"
PROJECTIONS = (AUDIT_TABLE, ATTEMPTS_TABLE, CASES_TABLE)

ATTEMPT_COLUMNS = (
    "case_id",
    "step",
    "attempt",
    "sop_id",
    "sop_version",
    "role",
    "assignees",
    "entered_at",
    "entered_position",
    "standard_seconds",
    "at_risk_at",
    "breach_at",
    "completed_at",
    "completed_position",
    "completed_by",
    "outcome",
    "reason",
    "working_seconds",
    "status",
)
CASE_COLUMNS = (
    "case_id",
    "sop_id",
    "sop_version",
    "opened_at",
    "closed_at",
    "working_seconds",
    "standard_seconds",
    "status",
    "attempts",
    "rework_loops",
    "breaches",
)
FACT_QUERY = (
    "SELECT global_position, case_id, type, occurred_at, sop_id, sop_version, step,"
    " next_step, decision, reason, actor_id, assignments FROM ledger_audit WHERE completes"
)


def ledger_migrations() -> list[Migration]:
    """Return the ledger's own migrations, in order."""
    folder = resources.files("prokopim_ledger") / "sql"
    scripts = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(f"ledger/{entry.name}", entry.read_text("utf-8")) for entry in scripts]


def fact_from_row(row: asyncpg.Record | Sequence[Any]) -> Fact:
    """Build a fold input from a row of FACT_QUERY."""
    (position, case_id, type_, occurred_at, sop_id, sop_version, step, next_step) = row[:8]
    decision, reason, actor_id, assignments = row[8:12]
    staff = tuple((a["name"], a["role"]) for a in assignments) if assignments else ()
    return Fact(
        position,
        case_id,
        type_,
        occurred_at,
        sop_id,
        sop_version,
        step,
        next_step,
        decision,
        reason,
        actor_id,
        staff,
    )


def attempt_row(a: Attempt) -> tuple[Any, ...]:
    """Encode a step attempt as a ledger_step_attempts row (its fields are in column order)."""
    return a


def case_row(sla: CaseSla) -> tuple[Any, ...]:
    """Encode a case's totals as a ledger_cases row (CASE_COLUMNS order)."""
    return (
        sla.case_id,
        sla.sop_id,
        sla.sop_version,
        sla.opened_at,
        sla.closed_at,
        sla.working_seconds,
        sla.standard_seconds,
        sla.status.value,
        len(sla.attempts),
        sla.rework_loops,
        sum(1 for a in sla.attempts if a.status is Status.BREACHED),
    )


async def project_event(
    conn: Connection, position: int, catalog: SopCatalog, calendar: WorkingCalendar
) -> CaseSla | None:
    """Project one stored event live; return the case's new SLA if the event moved it."""
    row = await conn.fetchrow(
        "INSERT INTO ledger_audit SELECT * FROM ledger_audit_source WHERE global_position = $1"
        " ON CONFLICT DO NOTHING RETURNING case_id, completes",
        position,
    )
    if row is None or not row["completes"]:
        return None
    return await refold_case(conn, row["case_id"], catalog, calendar)


async def refold_case(
    conn: Connection, case_id: UUID, catalog: SopCatalog, calendar: WorkingCalendar
) -> CaseSla:
    """Fold a case again from its audit rows and replace its attempt and case rows."""
    rows = await conn.fetch(f"{FACT_QUERY} AND case_id = $1 ORDER BY global_position", case_id)
    sla = fold_case([fact_from_row(r) for r in rows], catalog, calendar)
    await conn.execute("DELETE FROM ledger_step_attempts WHERE case_id = $1", case_id)
    await conn.execute("DELETE FROM ledger_cases WHERE case_id = $1", case_id)
    await conn.copy_records_to_table(
        ATTEMPTS_TABLE, records=[attempt_row(a) for a in sla.attempts], columns=ATTEMPT_COLUMNS
    )
    await conn.copy_records_to_table(CASES_TABLE, records=[case_row(sla)], columns=CASE_COLUMNS)
    return sla
