"""The SLA fold as the ledger runs it: set-based SQL, one definition for live and rebuild.

`ledger_sla_attempt_rows(facts, low, high)` (sla_sql.py) derives the step
attempts of the cases whose ids lie in low..high from their step-completing audit rows,
with exactly the rules of `sla.fold_case` (the pure specification, which the tests hold
it to). Case rows are aggregated from those attempts by CASE_ROWS. The live path runs
both for one case; the rebuild for every case at once.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
from prokopim_events.db import Connection
from prokopim_sop import SopCatalog
from prokopim_sop.calendar import WorkingCalendar

from .alerts import attempt_from_row
from .sla import CaseSla
from .sla_sql import status_sql
from .sql_config import ensure_sla_config

LOWEST, HIGHEST = UUID(int=0), UUID(int=(1 << 128) - 1)
ATTEMPT_SELECT = (
    "case_id, step, attempt, sop_id, sop_version, role, assignees, entered_at,"
    " entered_position, standard_seconds, at_risk_at, breach_at, completed_at,"
    " completed_position, completed_by, outcome, reason, working_seconds, status"
)
# A case's totals from its attempts (in `{source}`); columns in ledger_cases order.
CASE_ROWS = """
SELECT t.case_id, t.sop_id, t.sop_version, t.opened_at, t.closed_at, t.used,
       p.standard_seconds,
       CASE {status} END,
       t.attempts, t.rework_loops, t.breaches
  FROM (SELECT a.case_id, a.sop_id, a.sop_version, a.opened_at,
               CASE WHEN bool_and(a.completed_at IS NOT NULL)
                    THEN (array_agg(a.closes_at ORDER BY a.completed_position DESC)
                          FILTER (WHERE a.closes_at IS NOT NULL))[1] END AS closed_at,
               coalesce(sum(a.working_seconds ORDER BY a.entered_position, a.step, a.attempt), 0)
                   ::double precision AS used,
               count(*)::int AS attempts,
               count(*) FILTER (WHERE a.outcome = 'rejected')::int AS rework_loops,
               count(*) FILTER (WHERE a.status = 'breached')::int AS breaches
          FROM {source} a
         GROUP BY a.case_id, a.sop_id, a.sop_version, a.opened_at) t
  LEFT JOIN ledger_sla_plan p
    ON (p.sop_id, p.sop_version, p.step) = (t.sop_id, t.sop_version, 0)
""".replace("{status}", status_sql("t.used", "p.standard_seconds"))
# Fold the cases low..high of ledger_audit into the attempt and case tables; counts back.
FOLD_INTO_PROJECTIONS = f"""
WITH a AS MATERIALIZED (SELECT * FROM ledger_sla_attempt_rows('ledger_sla_facts', $1, $2)),
attempts AS (INSERT INTO ledger_step_attempts SELECT {ATTEMPT_SELECT} FROM a RETURNING 1),
cases AS (INSERT INTO ledger_cases {CASE_ROWS.format(source="a")} RETURNING 1)
SELECT (SELECT count(*) FROM attempts) AS attempts, (SELECT count(*) FROM cases) AS cases
"""
# The same fold read straight from the events (a rebuild's second connection), kept in a
# temporary table and sent as COPY data.
FOLD_FROM_SOURCE = (
    "CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS"
    " SELECT * FROM ledger_sla_attempt_rows('ledger_sla_source_facts', $1, $2)"
)


async def fold_cases(conn: Connection, low: UUID, high: UUID) -> tuple[int, int]:
    """Fold the cases with ids in low..high from ledger_audit; return (attempts, cases)."""
    row = await conn.fetchrow(FOLD_INTO_PROJECTIONS, low, high)
    assert row is not None
    return row["attempts"], row["cases"]


async def refold_case(
    conn: Connection, case_id: UUID, catalog: SopCatalog, calendar: WorkingCalendar
) -> CaseSla:
    """Fold a case again from its audit rows and replace its attempt and case rows."""
    span = await conn.fetchrow(
        "SELECT min(occurred_at), max(occurred_at) FROM ledger_audit"
        " WHERE case_id = $1 AND completes",
        case_id,
    )
    if span is None or span[0] is None:
        raise ValueError(f"case {case_id} has no step-completing event")
    await ensure_sla_config(conn, catalog, calendar, span[0], span[1])
    await conn.execute("DELETE FROM ledger_step_attempts WHERE case_id = $1", case_id)
    await conn.execute("DELETE FROM ledger_cases WHERE case_id = $1", case_id)
    await fold_cases(conn, case_id, case_id)
    return await read_case(conn, case_id)


async def read_case(conn: Connection, case_id: UUID) -> CaseSla:
    """Read a case's SLA back from the attempt and case tables."""
    rows = await conn.fetch(
        "SELECT * FROM ledger_step_attempts WHERE case_id = $1"
        " ORDER BY entered_position, step, attempt",
        case_id,
    )
    case = await conn.fetchrow("SELECT * FROM ledger_cases WHERE case_id = $1", case_id)
    if case is None:
        raise ValueError(f"case {case_id} has no SLA row")
    return case_sla(case, rows)


def case_sla(case: asyncpg.Record, attempts: list[asyncpg.Record]) -> CaseSla:
    return CaseSla(
        case_id=case["case_id"],
        sop_id=case["sop_id"],
        sop_version=case["sop_version"],
        opened_at=case["opened_at"],
        closed_at=case["closed_at"],
        attempts=tuple(attempt_from_row(row) for row in attempts),
        standard_seconds=case["standard_seconds"],
    )
