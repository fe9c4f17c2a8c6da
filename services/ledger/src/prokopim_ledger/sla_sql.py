"""The SLA fold's SQL functions and views, re-created from this module, never frozen.

`ledger_sla_attempt_rows` (with `ledger_after_working`, the facts views and the calendar-gap
refusal) is the set-based form of `sla.fold_case`, kept in SQL for the rebuild's speed. Its
thresholds come from `sla` (the one definition the Python fold, the live alerts and the
metrics use too) and its working time from the calendar tables `sql_config` writes from
`WorkingCalendar`. `install` runs it all as CREATE OR REPLACE: at start-up and before a
rebuild (`sql_config.ensure_for_store`), and whenever its text changed (the digest is part
of the configuration fingerprint), so a database always folds with the code it runs.
"""

from __future__ import annotations

import hashlib

from prokopim_events.db import Connection

from .sla import AT_RISK_SHARE, BREACH_SHARE


def _share(value: float) -> str:
    """Return a share as an SQL literal (exact: the same double the Python fold uses)."""
    return repr(float(value))


def status_sql(used: str, standard: str) -> str:
    """Return the SQL CASE arms of `sla.status_of(used, standard)` (without CASE/END)."""
    breach = standard if BREACH_SHARE == 1.0 else f"{_share(BREACH_SHARE)} * {standard}"
    return (
        f"WHEN {used} > {breach} THEN 'breached'"
        f" WHEN {used} >= {_share(AT_RISK_SHARE)} * {standard} THEN 'at-risk'"
        " ELSE 'on-time'"
    )


_TEMPLATE = """
-- The instant `seconds` of working time after an instant at cumulative position
-- (before_s, into_s): calendar.after_working.
CREATE OR REPLACE FUNCTION ledger_after_working(
    entered timestamptz, before_s double precision, into_s double precision,
    seconds double precision
) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN seconds <= 0 THEN entered ELSE (
        SELECT d.opens + make_interval(secs => (before_s - d.before_seconds) + into_s + seconds)
          FROM ledger_working_days d
         WHERE d.through_seconds - before_s >= into_s + seconds
         ORDER BY d.through_seconds, d.day
         LIMIT 1)
    END
$$;

-- A fact on a day the working-calendar table does not cover is refused, never measured as
-- if it were not there: the rebuild covers the years of the store's first and last events
-- and, refused, covers every event's year and starts again (see rebuild.py).
CREATE OR REPLACE FUNCTION ledger_calendar_gap(at timestamptz) RETURNS double precision
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'the working calendar does not cover %', at USING ERRCODE = 'LC001';
END
$$;

-- Step-completing events placed on the working calendar: the audit rows written
-- (`ledger_sla_facts`, live) or those the view would write (`ledger_sla_source_facts`, read
-- straight from the events by a rebuild's second connection).
CREATE OR REPLACE VIEW ledger_sla_facts AS
SELECT a.case_id, a.global_position AS position, a.occurred_at, a.step, a.next_step,
       a.decision, a.reason, a.actor_id, a.sop_id, a.sop_version, a.assignments,
       d.before_seconds AS before_s,
       CASE WHEN d.day IS NULL THEN ledger_calendar_gap(a.occurred_at)
            ELSE least(greatest(date_part('epoch', a.occurred_at - d.opens), 0), d.length)
       END AS into_s
  FROM ledger_audit a
  LEFT JOIN ledger_working_days d
    ON d.day = (a.occurred_at AT TIME ZONE (SELECT timezone FROM ledger_sla_config))::date
 WHERE a.completes;

CREATE OR REPLACE VIEW ledger_sla_source_facts AS
SELECT a.case_id, a.global_position AS position, a.occurred_at, a.step, a.next_step,
       a.decision, a.reason, a.actor_id, a.sop_id, a.sop_version, a.assignments,
       d.before_seconds AS before_s,
       CASE WHEN d.day IS NULL THEN ledger_calendar_gap(a.occurred_at)
            ELSE least(greatest(date_part('epoch', a.occurred_at - d.opens), 0), d.length)
       END AS into_s
  FROM ledger_audit_source a
  LEFT JOIN ledger_working_days d
    ON d.day = (a.occurred_at AT TIME ZONE (SELECT timezone FROM ledger_sla_config))::date
 WHERE a.completes;

-- Step attempts of the cases low..high (from the facts view named), with the columns of
-- ledger_step_attempts first and what the case row needs after them. Each fact is a
-- completion mark (kind 0) at its step and an entry mark (kind 1) at its next step; per
-- case and step, a completion right after an entry measures from it, one that is not
-- measures 0; each entry and each unentered completion counts an attempt; an entry that
-- is the last mark of its step is running.
-- Staff: the assignments of the case's latest fact carrying some (at the completion, or
-- at the end for a running attempt), filtered by the step's role.
CREATE OR REPLACE FUNCTION ledger_sla_attempt_rows(facts text, low uuid, high uuid)
RETURNS TABLE (
    case_id uuid, step int, attempt int, sop_id text, sop_version text, role text,
    assignees text[], entered_at timestamptz, entered_position bigint,
    standard_seconds double precision, at_risk_at timestamptz, breach_at timestamptz,
    completed_at timestamptz, completed_position bigint, completed_by text, outcome text,
    reason text, working_seconds double precision, status text,
    opened_at timestamptz, closes_at timestamptz
) LANGUAGE plpgsql STABLE AS $function$
BEGIN
IF facts NOT IN ('ledger_sla_facts', 'ledger_sla_source_facts') THEN
    RAISE EXCEPTION 'no such facts view: %', facts;
END IF;
-- the facts view is named in the text, so that a rebuild's second connection reading the
-- events never touches (nor waits for the lock on) ledger_audit
RETURN QUERY EXECUTE format($query$
WITH x AS MATERIALIZED (
    SELECT * FROM %I WHERE case_id BETWEEN $1 AND $2
), staff AS (
    SELECT x.position, x.assignments FROM x
     WHERE x.assignments IS NOT NULL
       AND CASE jsonb_typeof(x.assignments) WHEN 'array'
                THEN jsonb_array_length(x.assignments) > 0 ELSE false END
), staff_names AS (  -- each assignment's staff names per role, in their order
    SELECT s.position, a.e ->> 'role' AS role, array_agg(a.e ->> 'name' ORDER BY a.i) AS names
      FROM staff s, jsonb_array_elements(s.assignments) WITH ORDINALITY AS a (e, i)
     GROUP BY s.position, a.e ->> 'role'
), f AS (
    SELECT x.case_id, x.position, x.occurred_at, x.step, x.next_step, x.decision, x.reason,
           x.actor_id, x.before_s, x.into_s,
           first_value(x.sop_id) OVER c AS case_sop,
           first_value(x.sop_version) OVER c AS case_version,
           first_value(x.occurred_at) OVER c AS opened_at,
           max(s.position) OVER c AS staff_now,
           max(s.position) OVER (PARTITION BY x.case_id) AS staff_last
      FROM x LEFT JOIN staff s ON s.position = x.position
    WINDOW c AS (PARTITION BY x.case_id ORDER BY x.position)
), m AS (
    SELECT f.case_id, f.position, f.occurred_at, f.next_step, f.decision, f.reason,
           f.actor_id, f.case_sop, f.case_version, f.opened_at, f.before_s, f.into_s,
           k.step, k.kind, k.cancel,
           CASE k.kind WHEN 0 THEN f.staff_now ELSE f.staff_last END AS staff_at,
           lag(f.position * 2 + k.kind) OVER p AS prev_key,  -- position and kind
           lag(f.occurred_at) OVER p AS prev_at,
           lag(f.before_s) OVER p AS prev_before,
           lag(f.into_s) OVER p AS prev_into,
           lead(k.kind) OVER p AS next_kind
      FROM f CROSS JOIN LATERAL (
          SELECT v.step, v.kind, false FROM (VALUES (f.step, 0), (f.next_step, 1)) AS v (step, kind)
          UNION ALL  -- a cancellation: a completion mark at every step of the SOP
          SELECT p.step, 0, true FROM ledger_sla_plan p
           WHERE f.decision = 'cancelled' AND p.step > 0
             AND (p.sop_id, p.sop_version) = (f.case_sop, f.case_version)
      ) AS k (step, kind, cancel)
     WHERE k.step IS NOT NULL
    WINDOW p AS (PARTITION BY f.case_id, k.step ORDER BY f.position, k.kind)
), n AS (
    SELECT m.*, m.prev_key %% 2 = 1 AS entered,
           sum(CASE WHEN m.kind = 1 OR (m.prev_key %% 2 IS DISTINCT FROM 1 AND NOT m.cancel)
                    THEN 1 ELSE 0 END)
               OVER (PARTITION BY m.case_id, m.step ORDER BY m.position, m.kind
                     ROWS UNBOUNDED PRECEDING) AS number
      FROM m
)
SELECT n.case_id,
       n.step,
       n.number::int,
       n.case_sop,
       n.case_version,
       p.role,
       coalesce(s.names, '{}'::text[]),
       CASE WHEN n.kind = 0 AND n.entered THEN n.prev_at ELSE n.occurred_at END,
       CASE WHEN n.kind = 0 AND n.entered THEN n.prev_key / 2 ELSE n.position END,
       p.standard_seconds,
       CASE WHEN n.kind = 1 THEN ledger_after_working(
           n.occurred_at, n.before_s, n.into_s, {at_risk} * p.standard_seconds) END,
       CASE WHEN n.kind = 1 THEN ledger_after_working(
           n.occurred_at, n.before_s, n.into_s, p.standard_seconds) END,
       CASE WHEN n.kind = 0 THEN n.occurred_at END,
       CASE WHEN n.kind = 0 THEN n.position END,
       CASE WHEN n.kind = 0 THEN n.actor_id END,
       CASE WHEN n.kind = 0 THEN coalesce(n.decision, 'completed') END,
       CASE WHEN n.kind = 0 AND n.decision IN ('rejected', 'cancelled') THEN n.reason END,
       u.used,
       CASE WHEN n.kind = 1 THEN NULL
            {status_of_used} END,
       n.opened_at,
       CASE WHEN n.kind = 0 AND n.next_step IS NULL THEN n.occurred_at END
  FROM n
  CROSS JOIN LATERAL (
      SELECT CASE WHEN n.kind = 1 THEN NULL
                  WHEN n.entered
                  THEN greatest((n.before_s - n.prev_before) + (n.into_s - n.prev_into), 0)
                  ELSE 0 END::double precision AS used
  ) AS u
  LEFT JOIN ledger_sla_plan p
    ON (p.sop_id, p.sop_version, p.step) = (n.case_sop, n.case_version, n.step)
  LEFT JOIN staff_names s ON s.position = n.staff_at AND s.role = p.role
 WHERE (n.kind = 0 AND (n.entered OR NOT n.cancel)) OR (n.kind = 1 AND n.next_kind IS NULL)
$query$, facts) USING low, high;
END
$function$;
"""

SLA_SQL = _TEMPLATE.replace("{at_risk}", _share(AT_RISK_SHARE)).replace(
    "{status_of_used}", status_sql("u.used", "p.standard_seconds")
)
DIGEST = hashlib.sha256(SLA_SQL.encode()).hexdigest()


async def install(conn: Connection) -> None:
    """Create or replace the SQL fold's functions and views, one process at a time
    (two concurrent CREATE OR REPLACE of one function collide on pg_proc's unique index)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ledger-sla', 0))")
        await conn.execute(SLA_SQL)
