"""The projection, shared by the live consumer and the rebuild so both write the same bytes.

Audit rows come from the `ledger_audit_source` view (one SQL definition of what an audit
row says about an event). Step attempts and cases come from the SQL fold (fold.py) over a
case's step-completing audit rows, which `sla.fold_case` specifies; FACT_QUERY and
`fact_from_row` read those rows as the specification's input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from prokopim_events.db import Connection
from prokopim_events.migrations import Migration, package_migrations
from prokopim_sop import SopCatalog
from prokopim_sop.calendar import WorkingCalendar

from .fold import refold_case
from .sla import CaseSla, Fact

AUDIT_TABLE = "ledger_audit"
ATTEMPTS_TABLE = "ledger_step_attempts"
CASES_TABLE = "ledger_cases"
PROJECTIONS = (AUDIT_TABLE, ATTEMPTS_TABLE, CASES_TABLE)
# First key of the ledger's per-case advisory locks (the two-key form, a space of its own)
CASE_LOCK_SPACE = 0x1ED6

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
    return package_migrations("prokopim_ledger", "ledger")


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
    # Events of one case are handled concurrently: refolding it one transaction at a time,
    # each sees the audit rows of those before it instead of colliding on its attempt rows
    # (which cost a retry of the whole handler)
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2::uuid::text))",
        CASE_LOCK_SPACE,
        row["case_id"],
    )
    return await refold_case(conn, row["case_id"], catalog, calendar)
